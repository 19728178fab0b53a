#pragma once
// run_pipeline: the one generic runner behind `lookout run`: turns a PipelineSpec into a running
// Pipeline (source, detector workers, annotator, encoder, metadata), runs it to the end, and
// returns the accounting.
//
// Order of start-up, all before any pipeline thread exists: validate the spec (detectors, options,
// cascades), open the input (size and rate come from the stream), open the live outputs (bind the
// restream's port, open the window), create the output folders and open the outputs. Any failure
// there throws ConfigError or RuntimeError and nothing is left running. Once running, `stop` (e.g.
// set from a signal handler; polled every 100 ms) ends capture, and the frames in flight are still
// processed and every output finalised; closing the display window does the same. A file that
// ends well before the frame count its header announces (cut short) gets a warning on stderr.

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "lookout/core/pipeline.h"
#include "lookout/core/source.h"
#include "lookout/pipeline/pipeline_spec.h"
#include "lookout/pipeline/run_observer.h"

namespace lookout {

// What one detector stage did: frames it ran on or skipped (gating, every Nth) and the pixels it
// was given, which is what gating saves.
struct DetectorStageReport {
  std::string name;
  std::int64_t frames_run = 0;
  std::int64_t frames_skipped = 0;
  std::int64_t pixels = 0;
};

struct RunResult {
  RunReport report;
  StreamInfo input;
  SourceStatus input_status;  // at the end of the run: reconnections of a live input
  std::size_t workers = 0;
  std::vector<std::string> outputs;  // the files written
  DropPolicy drop_policy = DropPolicy::kBlock;
  std::vector<DetectorStageReport> detectors;
  std::vector<std::string> live_outputs;  // summary lines of the restream and the window
};

// Values of the `stop` flag: kStopDrain finishes the frames in flight; kStopNow drops those no
// worker has started. Both still finalise every output.
inline constexpr int kStopNone = 0;
inline constexpr int kStopDrain = 1;
inline constexpr int kStopNow = 2;

// `observer`, if given, watches the run (see run_observer.h) and must outlive the call.
RunResult run_pipeline(const PipelineSpec& spec, const std::atomic<int>& stop,
                       RunObserver* observer = nullptr);

// The end-of-run summary for people: counts, time, fps and per-stage p50/p99 latency.
std::string format_summary(const RunResult& result);

}  // namespace lookout
