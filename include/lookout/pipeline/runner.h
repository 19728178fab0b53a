#pragma once
// run_pipeline: the one generic runner behind `lookout run`: turns a PipelineSpec into a running
// Pipeline (source, detector workers, annotator, encoder, metadata), runs it to the end, and
// returns the accounting.
//
// Order of start-up, all before any pipeline thread exists: validate the spec (detectors, options,
// cascades), open the input (size and rate come from the stream), create the output folders and
// open the outputs. Any failure there throws ConfigError or RuntimeError and nothing is left
// running. Once running, `stop` (e.g. set from a signal handler; polled every 100 ms) ends capture,
// and the frames in flight are still processed and every output finalised.

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "lookout/core/pipeline.h"
#include "lookout/core/source.h"
#include "lookout/pipeline/pipeline_spec.h"

namespace lookout {

struct RunResult {
  RunReport report;
  StreamInfo input;
  std::size_t workers = 0;
  std::vector<std::string> outputs;  // the files written
};

RunResult run_pipeline(const PipelineSpec& spec, const std::atomic<bool>& stop);

// The end-of-run summary for people: counts, time, fps and per-stage p50/p99 latency.
std::string format_summary(const RunResult& result);

}  // namespace lookout
