// The `lookout` command: parses the command line into a PipelineSpec, runs it, prints the summary.
// Exit codes: 0 success, 1 runtime error (input or output failed while running), 2 usage or
// configuration error (found before anything ran).

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <unistd.h>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "lookout/output/video_writer.h"
#include "lookout/pipeline/runner.h"
#include "lookout/pipeline/spec_loader.h"
#include "lookout/pipeline/logging.h"
#include "lookout/pipeline/summary_json.h"

#include "bench_command.h"
#include "observe.h"

namespace {

// The first SIGINT or SIGTERM drains what is in flight; a second one stops at once. Either way
// every output is finalised.
std::atomic<int> g_stop{lookout::kStopNone};
static_assert(std::atomic<int>::is_always_lock_free, "the stop flag is set from a signal handler");

extern "C" void on_signal(int) {
  // Only async-signal-safe calls here: an atomic and write(2).
  if (g_stop.fetch_add(1) == lookout::kStopNone) {
    static const char kMessage[] =
        "lookout: stopping: finishing the frames in flight (press Ctrl-C again to stop at once)\n";
    [[maybe_unused]] const auto written = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  }
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

struct RunFlags {
  std::string pipeline_file;
  std::string input;
  std::string detector;
  std::string cascade;
  std::vector<std::string> opts;
  std::string output;
  std::string metadata;
  int workers = -1;
  long long frames = -1;
  int segment_seconds = -1;  // -1: the pipeline file's (default: one file)
  int fragment_ms = -1;      // -1: the pipeline file's (default: an ordinary mp4)
  int restream_port = 0;     // 0: the pipeline file's (default: no restream)
  std::string restream_address;
  bool display = false;
  bool no_display = false;
  // Input options; unset ones (empty, -1, false) leave the pipeline file's.
  bool realtime = false;
  std::string transport;
  int latency = -1;
  int width = -1;
  int height = -1;
  int fps = -1;
  int decoder_threads = -1;
  std::string drop_policy;
  int max_in_flight = -1;
  std::string summary_json;
  int max_age_ms = -1;
  double duration = -1;
  // Kept as text so that the input options check and word any bad value like the file's.
  std::string stall_timeout;
  std::string reconnect_attempts;
  lookout::cli::ObserveFlags observe;  // --quiet, --log-level, --stats-interval, --http...
};

lookout::PipelineSpec build_spec(const RunFlags& flags) {
  using lookout::ConfigError;
  lookout::PipelineSpec spec;
  if (!flags.pipeline_file.empty()) {
    spec = lookout::load_pipeline_file(flags.pipeline_file);
  } else {
    spec.origin = "command line";
    spec.video_output = lookout::kDefaultVideoOutput;
    spec.metadata_output = lookout::kDefaultMetadataOutput;
  }
  if (!flags.input.empty()) spec.input = flags.input;
  // "none" turns off an output the pipeline file asks for.
  if (!flags.output.empty()) spec.video_output = flags.output == "none" ? "" : flags.output;
  if (!flags.metadata.empty()) spec.metadata_output = flags.metadata == "none" ? "" : flags.metadata;
  if (flags.workers >= 0) spec.workers = static_cast<std::size_t>(flags.workers);
  if (flags.frames >= 0) spec.max_frames = flags.frames;
  if (flags.segment_seconds >= 0) {
    spec.video_options.set("segment_seconds", std::to_string(flags.segment_seconds), "--segment");
  }
  if (flags.fragment_ms >= 0) spec.video_options.set("fragment_ms", std::to_string(flags.fragment_ms), "--fragment-ms");
  if (flags.restream_port > 0) spec.restream_port = flags.restream_port;
  if (!flags.restream_address.empty()) {
    if (spec.restream_port == 0) {
      throw ConfigError(fmt::format("--restream-address {} needs a port to serve on: add --restream PORT (e.g. 8554)",
                                    flags.restream_address));
    }
    spec.restream_address = flags.restream_address;
  }
  if (flags.display) spec.display = true;
  if (flags.no_display) spec.display = false;
  lookout::Options& input = spec.input_options;
  if (flags.realtime) input.set("realtime", "true", "--realtime");
  if (!flags.transport.empty()) input.set("transport", flags.transport, "--transport");
  if (flags.latency >= 0) input.set("latency", std::to_string(flags.latency), "--latency");
  if (flags.width >= 0) input.set("width", std::to_string(flags.width), "--width");
  if (flags.height >= 0) input.set("height", std::to_string(flags.height), "--height");
  if (flags.fps >= 0) input.set("fps", std::to_string(flags.fps), "--fps");
  if (flags.decoder_threads >= 0) {
    input.set("decoder_threads", std::to_string(flags.decoder_threads), "--decoder-threads");
  }
  if (!flags.drop_policy.empty()) spec.drop_policy = flags.drop_policy;
  if (flags.max_in_flight >= 0) spec.max_in_flight = static_cast<std::size_t>(flags.max_in_flight);
  if (flags.max_age_ms >= 0) spec.max_age_ms = flags.max_age_ms;
  if (flags.duration >= 0) spec.duration_seconds = flags.duration;
  if (!flags.stall_timeout.empty()) input.set("stall_timeout", flags.stall_timeout, "--stall-timeout");
  if (!flags.reconnect_attempts.empty()) {
    input.set("reconnect_attempts", flags.reconnect_attempts, "--reconnect-attempts");
  }

  // --detector replaces the file's stages; --opt and --cascade then set that detector's options,
  // or, with a pipeline file and no --detector, those of the file's first stage.
  if (!flags.detector.empty()) {
    spec.stages.clear();
    lookout::DetectorSpec stage{flags.detector, lookout::Options("--detector " + flags.detector)};
    spec.stages.push_back(std::move(stage));
  }
  if (!flags.opts.empty() || !flags.cascade.empty()) {
    if (spec.stages.empty()) throw ConfigError("--opt and --cascade need a detector: add --detector NAME (e.g. hog)");
    lookout::Options& options = spec.stages.front().options;
    if (!flags.cascade.empty()) options.set("cascade", flags.cascade, "--cascade");
    for (const auto& opt : flags.opts) {
      const auto equals = opt.find('=');
      if (equals == std::string::npos || equals == 0) {
        throw ConfigError(fmt::format("--opt '{}' is not KEY=VALUE; e.g. --opt scale=1.1", opt));
      }
      options.set(opt.substr(0, equals), opt.substr(equals + 1), "--opt");
    }
  }
  if (flags.pipeline_file.empty() && spec.input.empty()) {
    throw ConfigError("nothing to run: give a pipeline file (lookout run pipelines/people.yaml) or --input URI --detector hog");
  }
  return spec;
}

int run_command(const RunFlags& flags) {
  lookout::PipelineSpec spec = build_spec(flags);
  install_signal_handlers();
  // Opened before the run so that an unwritable path stops it before it starts.
  std::ofstream summary_file;
  if (!flags.summary_json.empty()) {
    summary_file.open(flags.summary_json, std::ios::out | std::ios::trunc);
    if (!summary_file) {
      throw lookout::ConfigError(fmt::format("cannot write the summary '{}': {}; choose a writable path for --summary-json",
                                             flags.summary_json, std::strerror(errno)));
    }
  }
  // Binds the metrics port, if any, so that a port in use stops the run before it starts.
  lookout::cli::RunObservability observability(flags.observe, flags.frames);
  const lookout::RunResult result = lookout::run_pipeline(spec, g_stop, &observability);
  std::fputs(lookout::format_summary(result).c_str(), stdout);
  std::fflush(stdout);
  if (summary_file.is_open()) {
    summary_file << lookout::summary_json(result) << '\n';
    summary_file.close();
    if (!summary_file) {
      fmt::print(stderr, "lookout: error: cannot write the summary '{}'\n", flags.summary_json);
      return lookout::kExitRuntimeError;
    }
  }
  if (result.report.fatal_error) {
    spdlog::error("{}", *result.report.fatal_error);
    return lookout::kExitRuntimeError;
  }
  return 0;
}

int validate_command(const std::string& path) {
  const lookout::PipelineSpec spec = lookout::load_pipeline_file(path);
  lookout::validate_pipeline(spec);
  std::string stages;
  for (const auto& stage : spec.stages) stages += (stages.empty() ? "" : ", ") + stage.type;
  fmt::print("{}: ok (input {}; stages: {})\n", path, spec.input.empty() ? "(none: give --input)" : spec.input, stages);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  lookout::init_logging();
  CLI::App app{"lookout: find people, faces and objects in video files and streams, frame by frame"};
  app.set_version_flag("--version", std::string("lookout ") + LOOKOUT_VERSION);
  app.require_subcommand(1);

  // motion is a stage of its own (it runs in capture order), so the detectors do not list it.
  std::string types = "motion";
  for (const auto& type : lookout::detector_types()) types += "|" + type;

  RunFlags flags;
  CLI::App* run = app.add_subcommand("run", "Run a pipeline file, or a single detector on an input");
  run->add_option("pipeline", flags.pipeline_file, "Pipeline file (YAML), e.g. pipelines/people.yaml");
  run->add_option("--input,-i", flags.input,
                  "Input: path, URI (file, http, rtsp), test[:PATTERN], /dev/videoN or gst:DESCRIPTION "
                  "(overrides the file's)");
  run->add_flag("--realtime", flags.realtime, "Replay a file input at its own frame rate, as if live");
  run->add_option("--transport", flags.transport, "RTSP transport: tcp|udp|auto (default auto)");
  run->add_option("--latency", flags.latency, "RTSP jitter buffer in ms (default 200)")->check(CLI::Range(0, 60000));
  run->add_option("--width", flags.width, "Width for test: and /dev/video inputs")->check(CLI::Range(1, 16384));
  run->add_option("--height", flags.height, "Height for test: and /dev/video inputs")->check(CLI::Range(1, 16384));
  run->add_option("--fps", flags.fps, "Frame rate for test: and /dev/video inputs")->check(CLI::Range(1, 1000));
  run->add_option("--decoder-threads", flags.decoder_threads,
                  "Threads each libav decoder may use (0: one per core; default 1, the cores being the detectors')")
      ->type_name("N")
      ->check(CLI::Range(0, 64));
  run->add_option("--drop-policy", flags.drop_policy,
                  "When the pipeline is full: oldest|newest|block (default: block for files, oldest for live inputs)")
      ->check(CLI::IsMember({"auto", "oldest", "newest", "block"}));
  run->add_option("--max-in-flight", flags.max_in_flight,
                  "Frames between capture and the outputs at most (0: 4 per worker for files, workers + 1 live)")
      ->check(CLI::Range(0, 4096));
  run->add_option("--max-age-ms", flags.max_age_ms, "Drop frames older than MS when a worker takes them up (0: off)")
      ->type_name("MS")
      ->check(CLI::Range(0, 3'600'000));
  run->add_option("--summary-json", flags.summary_json, "Write the end-of-run summary as JSON to FILE")
      ->type_name("FILE");
  run->add_option("--duration", flags.duration, "Stop after SECONDS of running, then finish and finalise")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 1e9));
  run->add_option("--stall-timeout", flags.stall_timeout,
                  "Live inputs: no frame for this long means the stream is lost (default 10)")
      ->type_name("SECONDS");
  run->add_option("--reconnect-attempts", flags.reconnect_attempts,
                  "Attempts to bring a lost live stream back (-1: forever, the default; 0: never)")
      ->type_name("N");
  run->add_option("--detector,-d", flags.detector, "Detector: " + types + " (replaces the file's stages)");
  run->add_option("--cascade", flags.cascade, "Cascade XML for --detector cascade");
  run->add_option("--opt", flags.opts, "Detector option KEY=VALUE (repeatable), as in pipeline files");
  run->add_option("--output,-o", flags.output, "Annotated video file (.mp4, .mkv); none: no video");
  run->add_option("--metadata,-m", flags.metadata, "Detections as JSON Lines; none: no metadata");
  run->add_option("--workers,-w", flags.workers, "Detector worker threads (0: one per core)")->check(CLI::Range(0, 256));
  run->add_option("--frames", flags.frames, "Stop after N frames")->check(CLI::Range(0LL, 1LL << 40));
  run->add_option("--segment", flags.segment_seconds, "Write the video as consecutive files of about SECONDS each")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, lookout::kMaxSegmentSeconds));
  run->add_option("--fragment-ms", flags.fragment_ms, "Fragmented mp4, a fragment every MS (0: ordinary mp4)")
      ->type_name("MS")
      ->check(CLI::Range(0, lookout::kMaxFragmentMs));
  run->add_option("--restream", flags.restream_port, "Serve the annotated stream at rtsp://ADDRESS:PORT/lookout")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  run->add_option("--restream-address", flags.restream_address,
                  "Address the restream listens on (default 127.0.0.1; 0.0.0.0: every interface)")
      ->type_name("ADDR");
  auto* display = run->add_flag("--display", flags.display, "Show the annotated stream in a window");
  run->add_flag("--no-display", flags.no_display, "No window, even if the pipeline file asks for one")
      ->excludes(display);
  lookout::cli::add_observe_options(*run, flags.observe);

  std::string validate_path;
  CLI::App* validate = app.add_subcommand("validate", "Check a pipeline file and its options without running it");
  validate->add_option("pipeline", validate_path, "Pipeline file (YAML)")->required();

  lookout::cli::BenchFlags bench_flags;
  CLI::App* bench = lookout::cli::add_bench_command(app, bench_flags, types);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "lookout: error: {}\nRun 'lookout --help' for usage.\n", e.what());
    return lookout::kExitConfigError;
  }

  try {
    if (*run) {
      lookout::cli::apply_logging(flags.observe.logging);
      return run_command(flags);
    }
    if (*bench) {
      install_signal_handlers();
      return lookout::cli::bench_command(bench_flags, g_stop);
    }
    return validate_command(validate_path);
  } catch (const lookout::ConfigError& e) {
    spdlog::error("{}", e.what());
    return lookout::kExitConfigError;
  } catch (const lookout::RuntimeError& e) {
    spdlog::error("{}", e.what());
    return lookout::kExitRuntimeError;
  } catch (const std::exception& e) {
    fmt::print(stderr, "lookout: internal error: {}\n", e.what());
    return lookout::kExitRuntimeError;
  }
}
