#include "lookout/pipeline/runner.h"

#include <filesystem>
#include <system_error>

#include <fmt/core.h>

#include "lookout/annotate/annotator.h"
#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/output/metadata_writer.h"
#include "lookout/output/video_writer.h"
#include "lookout/pipeline/detector_chain.h"
#include "lookout/pipeline/spec_loader.h"

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

std::string stage_name(const PipelineSpec& spec) {
  std::string names;
  for (const auto& stage : spec.stages) names += (names.empty() ? "" : "+") + stage.type;
  return "detect (" + names + ")";
}

}  // namespace

RunResult run_pipeline(const PipelineSpec& spec, const std::atomic<bool>& stop) {
  ValidatedPipeline validated = validate_pipeline(spec);
  configure_opencv_threads();

  RunResult result;
  result.workers = resolve_workers(spec.workers);
  std::unique_ptr<Source> source = open_source(validated.source);
  result.input = source->info();

  std::vector<std::unique_ptr<SerialStage>> serial;
  if (!spec.video_output.empty()) {
    const std::string path = expand_output_path(spec.video_output, spec.input);
    create_parent_folder(path, "--output");
    if (spec.annotate) serial.push_back(std::make_unique<Annotator>());
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
  options.parallel_stage_name = stage_name(spec);
  Pipeline pipeline(std::move(source), detector_chain_factory(std::move(validated.factories)),
                    std::move(serial), options);
  pipeline.start();
  while (!pipeline.wait_for(std::chrono::milliseconds(100))) {
    if (stop.load()) pipeline.request_stop();
  }
  result.report = pipeline.wait();
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
  text += fmt::format("  time       {:.2f} s wall, {:.2f} fps, {} workers\n", report.wall_seconds,
                      report.fps(), result.workers);
  text += fmt::format("  {:<24} {:>8} {:>10} {:>10}\n", "stage", "frames", "p50 ms", "p99 ms");
  for (const auto& stage : report.stages) {
    text += fmt::format("  {:<24} {:>8} {:>10.2f} {:>10.2f}\n", stage.name, stage.latency.count(),
                        stage.latency.percentile_ms(0.50), stage.latency.percentile_ms(0.99));
  }
  for (const auto& output : result.outputs) text += fmt::format("  wrote      {}\n", output);
  return text;
}

}  // namespace lookout
