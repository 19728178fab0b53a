#include "lookout/pipeline/runner.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "lookout/annotate/annotator.h"
#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/output/display.h"
#include "lookout/output/metadata_writer.h"
#include "lookout/output/rtsp_restream.h"
#include "lookout/output/video_writer.h"
#include "lookout/pipeline/detector_chain.h"
#include "lookout/pipeline/spec_loader.h"
#include "motion_stage.h"

namespace lookout {
namespace {

void create_parent_folder(const std::string& path, const char* flag) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    throw ConfigError(fmt::format("cannot create the folder for output '{}': {}; choose a writable path with {}",
                                  path, error.message(), flag));
  }
}

std::string stage_name(const ValidatedPipeline& validated) {
  std::string names;
  for (const auto& stage : validated.stages) names += (names.empty() ? "" : "+") + stage.name;
  return names.empty() ? std::string("detect") : "detect (" + names + ")";
}

// The live outputs, opened before any file so that a busy port or a missing screen stops the run
// before anything is written.
struct LiveOutputs {
  std::unique_ptr<RtspRestream> restream;
  std::unique_ptr<DisplayWindow> display;
};

LiveOutputs open_live_outputs(const PipelineSpec& spec, const StreamInfo& input) {
  LiveOutputs live;
  const bool rate = input.fps_num > 0 && input.fps_den > 0;
  if (spec.restream_port > 0) {
    RtspRestreamOptions options;
    options.port = spec.restream_port;
    options.address = spec.restream_address;
    options.width = input.width;
    options.height = input.height;
    if (rate) options.fps_num = input.fps_num, options.fps_den = input.fps_den;
    live.restream = std::make_unique<RtspRestream>(options);
  }
  if (spec.display) {
    DisplayOptions options;
    options.width = input.width;
    options.height = input.height;
    if (rate) options.fps_num = input.fps_num, options.fps_den = input.fps_den;
    options.title = input.uri;
    live.display = std::make_unique<DisplayWindow>(options);
  }
  return live;
}

// A file whose frames run out well before the length its header announces was most likely cut
// short (an interrupted copy or download); GStreamer simply ends it, so lookout says so. The
// announced count is duration x rate, which may be off by a frame or two, hence the margin.
void warn_if_cut_short(const RunResult& result) {
  const RunReport& report = result.report;
  const std::int64_t announced = result.input.frame_count;
  if (result.input.live || announced <= 0 || report.stopped_early || report.fatal_error) return;
  if (report.frames_in + std::max<std::int64_t>(2, announced / 50) >= announced) return;
  spdlog::warn("input '{}' ended after {} of the {} frames its header announces: the file may be "
               "cut short (an interrupted copy or download); the outputs hold the frames it had",
               result.input.uri, report.frames_in, announced);
}

}  // namespace

RunResult run_pipeline(const PipelineSpec& spec, const std::atomic<int>& stop, RunObserver* observer) {
  ValidatedPipeline validated = validate_pipeline(spec);
  if (observer != nullptr) {
    for (auto& stage : validated.stages) {
      stage.factory = observer->detector_factory(stage.name, std::move(stage.factory));
    }
  }
  configure_opencv_threads();

  RunResult result;
  result.workers = resolve_workers(spec.workers);
  std::unique_ptr<Source> source = open_source(validated.source);
  result.input = source->info();
  const Source* input_source = source.get();  // owned by the pipeline below, alive until return

  std::vector<std::unique_ptr<SerialStage>> serial;
  LiveOutputs live = open_live_outputs(spec, result.input);
  std::vector<std::unique_ptr<SerialStage>> observed;
  if (observer != nullptr) observed = observer->annotated_stages(result.input);
  if (spec.annotate && (!spec.video_output.empty() || live.restream || live.display || !observed.empty())) {
    serial.push_back(std::make_unique<Annotator>());
  }
  for (auto& stage : observed) serial.push_back(std::move(stage));
  if (!spec.video_output.empty()) {
    const std::string path = expand_output_path(spec.video_output, spec.input);
    create_parent_folder(path, "--output");
    VideoWriterOptions options;
    options.path = path;
    options.width = result.input.width;
    options.height = result.input.height;
    if (result.input.fps_num > 0) {
      options.fps_num = result.input.fps_num;
      options.fps_den = result.input.fps_den;
    }
    options.speed_preset = validated.speed_preset;
    options.bitrate_kbps = validated.bitrate_kbps;
    options.fragment_ms = validated.fragment_ms;
    options.segment_seconds = validated.segment_seconds;
    serial.push_back(std::make_unique<VideoWriter>(options));
    result.outputs.push_back(options.segment_seconds > 0
                                 ? fmt::format("{}, {}, ... ({} s segments)", segment_path(path, 0),
                                               segment_path(path, 1), options.segment_seconds)
                                 : path);
  }
  // Serial stages run in order on the same frame, so these show the annotated image the video got.
  const RtspRestream* restream = live.restream.get();  // owned by the pipeline, alive until return
  const DisplayWindow* display = live.display.get();
  if (live.restream) serial.push_back(std::move(live.restream));
  if (live.display) serial.push_back(std::move(live.display));
  if (!spec.metadata_output.empty()) {
    const std::string path = expand_output_path(spec.metadata_output, spec.input);
    create_parent_folder(path, "--metadata");
    serial.push_back(std::make_unique<MetadataWriter>(path));
    result.outputs.push_back(path);
  }

  PipelineOptions options;
  options.workers = result.workers;
  options.max_in_flight = spec.max_in_flight;
  options.max_frames = spec.max_frames;
  options.parallel_stage_name = stage_name(validated);
  // A live source never waits for us: by default it drops the oldest waiting frame, and keeps one
  // frame in flight beyond the workers, since every waiting frame adds to the latency. That one
  // frame is ready the moment a worker frees up; measured on 10 fps RTSP into 2 hog workers, no
  // spare frame dropped a sixth of the frames and more spares only added waiting (README).
  options.drop_policy = validated.drop_policy.value_or(result.input.live ? DropPolicy::kDropOldest
                                                                         : DropPolicy::kBlock);
  if (options.max_in_flight == 0 && result.input.live) options.max_in_flight = result.workers + 1;
  options.max_age = std::chrono::milliseconds(spec.max_age_ms);
  result.drop_policy = options.drop_policy;
  auto counters = std::make_shared<ChainCounters>();
  Pipeline pipeline(std::move(source), detector_chain_factory(std::move(validated.stages), counters),
                    std::move(serial), options);
  for (auto& motion : validated.capture_stages) {
    pipeline.add_capture_stage(std::make_unique<MotionStage>(motion.name, std::move(motion.params)));
  }
  pipeline.start();
  if (observer != nullptr) observer->started(pipeline);
  const auto started = std::chrono::steady_clock::now();
  const auto duration = std::chrono::duration<double>(spec.duration_seconds);
  while (!pipeline.wait_for(std::chrono::milliseconds(100))) {
    int requested = stop.load();
    if (spec.duration_seconds > 0 && std::chrono::steady_clock::now() - started >= duration) {
      requested = std::max(requested, kStopDrain);
    }
    if (requested >= kStopNow) {
      pipeline.request_stop(StopMode::kNow);
    } else if (requested >= kStopDrain || (display != nullptr && display->window_closed())) {
      pipeline.request_stop(StopMode::kDrain);
    }
    if (observer != nullptr) observer->tick(pipeline);
  }
  result.report = pipeline.wait();
  warn_if_cut_short(result);
  if (observer != nullptr) observer->finished(pipeline, result.report);
  for (const auto& stage : *counters) {
    result.detectors.push_back({stage->name, stage->frames_run.load(), stage->frames_skipped.load(),
                                stage->pixels.load()});
  }
  if (restream != nullptr) {
    result.live_outputs.push_back(fmt::format(
        "served     {} ({} frames sent, {} dropped for slow clients, {} connections)",
        restream->url(), restream->frames_sent(), restream->frames_dropped(), restream->clients()));
  }
  if (display != nullptr) {
    result.live_outputs.push_back(fmt::format("showed     {} frames in a window ({}, {} dropped{})",
                                              display->frames_shown(), display->sink_name(),
                                              display->frames_dropped(),
                                              display->window_closed() ? ", closed by the user" : ""));
  }
  result.input_status = input_source->status();
  return result;
}

std::string format_summary(const RunResult& result) {
  const RunReport& report = result.report;
  const StreamInfo& input = result.input;
  std::string text = fmt::format("lookout: {} ({}x{}", input.uri, input.width, input.height);
  if (input.fps() > 0) text += fmt::format(" at {:.2f} fps", input.fps());
  if (input.frame_count >= 0) text += fmt::format(", {} frames", input.frame_count);
  text += ")\n";
  text += fmt::format("  frames     {} in, {} processed, {} dropped, {} failed{}\n", report.frames_in,
                      report.processed, report.dropped, report.failed,
                      report.stopped_early ? " (stopped early)" : "");
  if (report.dropped > 0) {
    text += fmt::format("  dropped    {} pipeline full, {} too old, {} at stop (drop policy {})\n",
                        report.dropped_pipeline_full, report.dropped_too_old,
                        report.dropped_stopping, to_string(result.drop_policy));
  }
  if (input.live) {
    const SourceStatus& status = result.input_status;
    text += fmt::format("  reconnects {} ({} attempt{})\n", status.reconnects, status.reconnect_attempts,
                        status.reconnect_attempts == 1 ? "" : "s");
  }
  text += fmt::format("  time       {:.2f} s wall, {:.2f} fps, {} workers\n", report.wall_seconds,
                      report.fps(), result.workers);
  for (const auto& detector : result.detectors) {
    if (detector.frames_skipped == 0) continue;  // said only where gating or every-Nth acted
    text += fmt::format("  gating     {}: ran on {} frames, skipped {}, {:.1f} Mpixels searched\n",
                        detector.name, detector.frames_run, detector.frames_skipped,
                        static_cast<double>(detector.pixels) / 1e6);
  }
  text += fmt::format("  {:<24} {:>8} {:>10} {:>10}\n", "stage", "frames", "p50 ms", "p99 ms");
  for (const auto& stage : report.stages) {
    text += fmt::format("  {:<24} {:>8} {:>10.2f} {:>10.2f}\n", stage.name, stage.latency.count(),
                        stage.latency.percentile_ms(0.50), stage.latency.percentile_ms(0.99));
  }
  for (const auto& output : result.outputs) text += fmt::format("  wrote      {}\n", output);
  for (const auto& line : result.live_outputs) text += fmt::format("  {}\n", line);
  return text;
}

}  // namespace lookout
