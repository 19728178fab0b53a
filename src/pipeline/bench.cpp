#include "lookout/pipeline/bench.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "lookout/detect/motion_model.h"
#include "lookout/pipeline/runner.h"
#include "lookout/pipeline/spec_loader.h"
#include "stream_info_json.h"

namespace lookout {
namespace {

using Seconds = std::chrono::duration<double>;

// Passes of decode only and of the none pipeline, in turn, for the overhead ratio.
constexpr int kOverheadPasses = 5;

// A folder for the runs' outputs, removed with everything in it when the benchmark ends.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lookout-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw RuntimeError("cannot create a temporary folder for the benchmark's outputs in " +
                         std::filesystem::temp_directory_path().string());
    }
    path_ = pattern;
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void check_stop(const std::atomic<int>& stop) {
  if (stop.load() != kStopNone) throw RuntimeError("the benchmark was interrupted");
}

PipelineSpec pipeline_spec(const BenchSpec& bench, const std::string& detector, std::size_t workers,
                           const TempFolder& folder) {
  PipelineSpec spec;
  spec.origin = "lookout bench";
  spec.input = bench.input;
  spec.workers = workers;
  spec.max_frames = bench.frames;
  DetectorSpec stage{detector, Options("--detector " + detector)};
  if (detector == bench.detector) {
    for (const auto& [key, value] : bench.options) stage.options.set(key, value, "--opt");
  }
  spec.stages.push_back(std::move(stage));
  spec.metadata_output = folder.file("bench.jsonl");
  if (bench.encode) spec.video_output = folder.file("bench.mp4");
  return spec;
}

double load_average() {
  double load = 0;
  return ::getloadavg(&load, 1) == 1 ? load : -1.0;
}

// Processor time of every thread of this process so far.
double process_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double peak_rss_mb() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

const LatencyHistogram* end_to_end(const RunReport& report) {
  for (const auto& stage : report.stages) {
    if (stage.name == "end-to-end") return &stage.latency;
  }
  return nullptr;
}

double bound_for(const BenchResult& result, std::size_t workers, bool* decode_bound = nullptr) {
  const double detector = double(result.serial ? 1 : workers) * result.detector_fps;
  const bool decode = result.decode_fps < detector;
  if (decode_bound != nullptr) *decode_bound = decode;
  return decode ? result.decode_fps : detector;
}

nlohmann::ordered_json latency_json(const LatencyHistogram& histogram) {
  return {{"p50", histogram.percentile_ms(0.50)},
          {"p90", histogram.percentile_ms(0.90)},
          {"p99", histogram.percentile_ms(0.99)},
          {"max", histogram.max_ms()}};
}

}  // namespace

BenchResult run_bench(const BenchSpec& spec, const std::atomic<int>& stop,
                      const std::function<void(const std::string&)>& progress) {
  auto tell = [&](const std::string& text) {
    if (progress) progress(text);
  };
  BenchResult result;
  result.spec = spec;
  result.cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t max_workers = spec.max_workers > 0 ? spec.max_workers : result.cores;
  TempFolder folder;

  // Every option is checked up front, as `lookout run` would, before anything is measured.
  const ValidatedPipeline validated = validate_pipeline(pipeline_spec(spec, spec.detector, 1, folder));
  configure_opencv_threads();
  result.serial = !validated.capture_stages.empty();

  result.load_start = load_average();

  // 1. Decode only. Opening (and prerolling) is left out of the time, as it is of the pipeline's.
  auto decode_pass = [&] {
    auto source = open_source(validated.source);
    result.input = source->info();
    if (result.input.live) {
      throw ConfigError(fmt::format("lookout bench needs a file: '{}' is a live input, which has no fixed "
                                    "frames to measure; record a clip first (lookout run --output clip.mkv)",
                                    result.input.uri));
    }
    const auto begin = std::chrono::steady_clock::now();
    std::int64_t frames = 0;
    std::string error;
    while (spec.frames < 0 || frames < spec.frames) {
      Frame frame;
      const Source::Read read = source->read(frame, error);
      if (read == Source::Read::kError) throw RuntimeError(error);
      if (read != Source::Read::kFrame) break;
      ++frames;
      if (frames % 64 == 0) check_stop(stop);
    }
    const double seconds = Seconds(std::chrono::steady_clock::now() - begin).count();
    if (frames == 0) throw RuntimeError(fmt::format("no frames decoded from {}", result.input.uri));
    result.frames = frames;
    check_stop(stop);
    return seconds > 0 ? double(frames) / seconds : 0.0;
  };

  // 2. The pipeline as `lookout run` runs it; with the none detector, the framework alone.
  auto measure = [&](const std::string& detector, std::size_t workers) {
    const RunResult run = run_pipeline(pipeline_spec(spec, detector, workers, folder), stop);
    if (run.report.fatal_error) throw RuntimeError(*run.report.fatal_error);
    check_stop(stop);
    BenchPipelineRun measured;
    measured.workers = run.workers;
    measured.frames = run.report.frames_in;
    measured.wall_seconds = run.report.wall_seconds;
    measured.fps = run.report.fps();
    if (const LatencyHistogram* latency = end_to_end(run.report)) measured.end_to_end = *latency;
    return measured;
  };

  // The overhead ratio compares two decode-bound runs of about a second each on a short clip, where
  // a moment of other load (on a virtual machine, another machine's) takes a fifth off one of
  // them. So each side gets five passes, taken in turn (decode, none, decode, none...) so that
  // load, page cache and clock speed meet both alike, and keeps its fastest. The first decode also
  // warms the page cache and the decoder's code. The processor time of each pass (every thread of
  // this process: GStreamer's decoders and the pipeline's own) is steadier than its wall time,
  // and its ratio says the same in other terms: the share of the work that is decoding.
  tell("decode only, and the pipeline with --detector none");
  double decode_cpu = 0;
  double none_cpu = 0;
  for (int pass = 0; pass < kOverheadPasses; ++pass) {
    double cpu = process_cpu_seconds();
    result.decode_fps = std::max(result.decode_fps, decode_pass());
    const double decode_cpu_per_frame = (process_cpu_seconds() - cpu) / double(result.frames);
    cpu = process_cpu_seconds();
    const BenchPipelineRun none = measure("none", max_workers);
    const double none_cpu_per_frame = (process_cpu_seconds() - cpu) / double(std::max<std::int64_t>(1, none.frames));
    result.none_fps = std::max(result.none_fps, none.fps);
    decode_cpu = pass == 0 ? decode_cpu_per_frame : std::min(decode_cpu, decode_cpu_per_frame);
    none_cpu = pass == 0 ? none_cpu_per_frame : std::min(none_cpu, none_cpu_per_frame);
  }
  result.overhead_ratio = result.decode_fps > 0 ? result.none_fps / result.decode_fps : 0.0;
  result.overhead_cpu_ratio = none_cpu > 0 ? decode_cpu / none_cpu : 0.0;
  result.none_cpu_ms = none_cpu * 1000.0;

  for (std::size_t workers = 1; workers <= max_workers; ++workers) {
    tell(fmt::format("pipeline, {} worker{}", workers, workers == 1 ? "" : "s"));
    result.pipeline.push_back(measure(spec.detector, workers));
  }
  result.peak_rss_mb = peak_rss_mb();

  // 3. Detector only, on pixels already in memory (copies: decoding keeps no buffers of its own
  // alive while we hold them).
  tell("detector only, 1 thread");
  {
    // Motion is a model updated frame by frame, not a Detector: it is timed the same way, on the
    // same frames in order, from the parameters validation read.
    std::unique_ptr<Detector> detector;
    std::unique_ptr<MotionModel> motion;
    if (result.serial) {
      motion = std::make_unique<MotionModel>(validated.capture_stages.front().params);
    } else {
      DetectorSpec detector_spec{spec.detector, Options("--detector " + spec.detector)};
      for (const auto& [key, value] : spec.options) detector_spec.options.set(key, value, "--opt");
      detector = make_detector_factory(std::move(detector_spec))();
    }
    auto work = [&](const cv::Mat& image) {
      if (motion) {
        motion->apply(image);
      } else {
        detector->detect(image);
      }
    };
    std::vector<cv::Mat> images;
    std::size_t bytes = 0;
    auto source = open_source(validated.source);
    std::string error;
    while (spec.frames < 0 || static_cast<std::int64_t>(images.size()) < spec.frames) {
      Frame frame;
      const Source::Read read = source->read(frame, error);
      if (read == Source::Read::kError) throw RuntimeError(error);
      if (read != Source::Read::kFrame) break;
      const std::size_t size = frame.image.total() * frame.image.elemSize();
      if (!images.empty() && bytes + size > spec.memory_budget) break;
      bytes += size;
      images.push_back(frame.image.clone());
    }
    source.reset();
    if (images.empty()) throw RuntimeError(fmt::format("no frames decoded from {}", result.input.uri));
    check_stop(stop);
    // A network allocates its buffers and picks its kernels on the first call: a cost a pipeline
    // pays once per worker at start, not per frame (and a motion model its buffers).
    work(images.front());
    auto detector_pass = [&] {
      const auto begin = std::chrono::steady_clock::now();
      for (const auto& image : images) {
        work(image);
        check_stop(stop);
      }
      const double seconds = Seconds(std::chrono::steady_clock::now() - begin).count();
      // A detector that does nothing (none) may finish below the clock's resolution.
      return double(images.size()) / std::max(seconds, 1e-9);
    };
    result.detector_frames = static_cast<std::int64_t>(images.size());
    result.detector_fps = detector_pass();

    // 4. More passes of the efficiency's two sides, in turn, each keeping its fastest: where the
    // machine's speed moves from one second to the next (a virtual machine's neighbours), a single
    // pass of each measures the moment as much as the program.
    for (int pass = 1; pass < spec.passes; ++pass) {
      tell(fmt::format("pass {} of {}: pipeline, {} workers, and detector only", pass + 1, spec.passes,
                       result.pipeline.back().workers));
      BenchPipelineRun again = measure(spec.detector, result.pipeline.back().workers);
      if (again.fps > result.pipeline.back().fps) result.pipeline.back() = std::move(again);
      result.detector_fps = std::max(result.detector_fps, detector_pass());
    }
  }

  for (auto& run : result.pipeline) {
    const double bound = bound_for(result, run.workers);
    run.efficiency = bound > 0 ? run.fps / bound : 0.0;
  }
  const BenchPipelineRun& widest = result.pipeline.back();
  result.bound_fps = bound_for(result, widest.workers, &result.decode_bound);
  result.efficiency = widest.efficiency;
  if (!result.serial && result.detector_fps > 0) {
    result.work_bound_fps =
        double(widest.workers) * 1000.0 / (1000.0 / result.detector_fps + result.none_cpu_ms);
    result.work_efficiency = widest.fps / result.work_bound_fps;
  }
  result.load_end = load_average();
  return result;
}

std::string format_bench_table(const BenchResult& result) {
  const StreamInfo& input = result.input;
  std::string options;
  for (const auto& [key, value] : result.spec.options) options += fmt::format(" {}={}", key, value);
  std::string text = fmt::format("lookout bench: {} ({}x{}, {} frames), detector {}{}, {} cores\n", input.uri,
                                 input.width, input.height, result.frames, result.spec.detector, options,
                                 result.cores);
  auto row = [&](const std::string& what, double fps, const std::string& note) {
    text += fmt::format("  {:<34} {:>9.2f} fps {:>9.2f} ms", what, fps, fps > 0 ? 1000.0 / fps : 0.0);
    text += note.empty() ? "\n" : "  " + note + "\n";
  };
  row("decode only", result.decode_fps, "");
  row("detector only, 1 thread", result.detector_fps,
      fmt::format("{} frames decoded beforehand", result.detector_frames));
  const char* kind = result.spec.encode ? "pipeline (+mp4)" : "pipeline";
  for (const auto& run : result.pipeline) {
    row(fmt::format("{}, {} worker{}", kind, run.workers, run.workers == 1 ? "" : "s"), run.fps,
        fmt::format("efficiency {:.2f}", run.efficiency));
  }
  const std::size_t widest = result.pipeline.empty() ? 0 : result.pipeline.back().workers;
  row(fmt::format("{}, none, {} worker{}", kind, widest, widest == 1 ? "" : "s"), result.none_fps, "");
  text += fmt::format("  efficiency       {:.2f}  (pipeline / {} = {:.2f} fps{})\n", result.efficiency,
                      result.decode_bound ? "decode only"
                      : result.serial     ? std::string("detector only: it runs on one thread, in frame order")
                                          : fmt::format("({} x detector only)", widest),
                      result.bound_fps, result.decode_bound ? "; decoding is the bound" : "");
  text += fmt::format("  overhead ratio   {:.2f}  (pipeline with --detector none / decode only; target >= 0.9)\n",
                      result.overhead_ratio);
  text += fmt::format("                   {:.2f}  in processor time (decode only / pipeline with none, a frame)\n",
                      result.overhead_cpu_ratio);
  if (result.work_bound_fps > 0) {
    text += fmt::format("  against the work {:.2f}  (pipeline / ({} x 1000 / (detector only {:.2f} ms + the none pipeline's "
                        "{:.2f} ms of processor time a frame)) = {:.2f} fps)\n",
                        result.work_efficiency, widest, 1000.0 / result.detector_fps, result.none_cpu_ms,
                        result.work_bound_fps);
  }
  if (!result.pipeline.empty()) {
    const LatencyHistogram& latency = result.pipeline.back().end_to_end;
    text += fmt::format("  end-to-end       p50 {:.1f} ms, p90 {:.1f} ms, p99 {:.1f} ms ({} workers)\n",
                        latency.percentile_ms(0.50), latency.percentile_ms(0.90), latency.percentile_ms(0.99),
                        widest);
  }
  text += fmt::format("  peak RSS         {:.0f} MB (decoding and pipelines)\n", result.peak_rss_mb);
  text += fmt::format("  load average     {:.2f} at the start, {:.2f} at the end (1 min; above 0: other programs "
                      "used the cores too)\n",
                      result.load_start, result.load_end);
  text += fmt::format("  pipeline: decode, detect, reorder, {}\n",
                      result.spec.encode ? "annotate, x264 mp4, JSON Lines" : "JSON Lines (no video encoding)");
  if (result.spec.passes > 1) {
    text += fmt::format("  passes           {} of detector only and of the pipeline with {} workers, the fastest "
                        "of each kept\n",
                        result.spec.passes, widest);
  }
  return text;
}

std::string bench_json(const BenchResult& result) {
  using Json = nlohmann::ordered_json;
  Json json;
  json["input"] = stream_info_json(result.input);
  json["detector"] = result.spec.detector;
  Json options = Json::object();
  for (const auto& [key, value] : result.spec.options) options[key] = value;
  json["options"] = std::move(options);
  json["cores"] = result.cores;
  json["frames"] = result.frames;
  json["video_encoding"] = result.spec.encode;
  json["decode_fps"] = result.decode_fps;
  json["detector_fps"] = result.detector_fps;
  json["detector_frames"] = result.detector_frames;
  json["detector_ms_per_frame"] = result.detector_fps > 0 ? 1000.0 / result.detector_fps : 0.0;
  Json runs = Json::array();
  for (const auto& run : result.pipeline) {
    runs.push_back({{"workers", run.workers},
                    {"frames", run.frames},
                    {"wall_seconds", run.wall_seconds},
                    {"fps", run.fps},
                    {"efficiency", run.efficiency},
                    {"latency_ms", latency_json(run.end_to_end)}});
  }
  json["pipeline"] = std::move(runs);
  json["pipeline_fps"] = result.pipeline.empty() ? 0.0 : result.pipeline.back().fps;
  json["bound"] = result.decode_bound ? "decode" : "detector";
  json["serial"] = result.serial;
  json["bound_fps"] = result.bound_fps;
  json["efficiency"] = result.efficiency;
  json["none_fps"] = result.none_fps;
  json["overhead_ratio"] = result.overhead_ratio;
  json["overhead_cpu_ratio"] = result.overhead_cpu_ratio;
  json["none_cpu_ms"] = result.none_cpu_ms;
  json["work_bound_fps"] = result.work_bound_fps;
  json["work_efficiency"] = result.work_efficiency;
  json["latency_ms"] = latency_json(result.pipeline.empty() ? LatencyHistogram{} : result.pipeline.back().end_to_end);
  json["peak_rss_mb"] = result.peak_rss_mb;
  json["load_average"] = {{"start", result.load_start}, {"end", result.load_end}};
  json["passes"] = result.spec.passes;
  return json.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace lookout
