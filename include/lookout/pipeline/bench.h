#pragma once
// Throughput benchmark behind `lookout bench`: on the same frames of one file, in this order,
//
//   1. decode only: the capture front (GStreamer decode and conversion to BGR) reading every frame
//      and handing it to nothing; the fastest of five passes, each followed by a pass of step 3
//      (the first warms caches up);
//   2. the full pipeline (decode, N detector workers, reorder, metadata to a temporary JSON Lines
//      file; with `encode`, also annotation and x264 mp4 encoding) for N = 1 .. max_workers, through
//      run_pipeline() itself, so it is exactly what `lookout run` does;
//   3. the same pipeline with the `none` detector and max_workers workers: the framework's own
//      cost, as a ratio to decode only (1.0: the framework costs nothing beyond decoding);
//   4. peak RSS (getrusage) of the process so far: decode and pipeline runs, before step 5;
//   5. detector only: one detector on this thread (OpenCV's pool off, as in the pipeline) over
//      frames decoded into memory beforehand (as many as fit in `memory_budget`), after one
//      untimed warm-up call;
//   6. with `passes` above 1, that many passes in all of detector only and of the pipeline with
//      max_workers, taken in turn, each keeping its fastest (the efficiency's two sides).
//
// Efficiency = pipeline fps with N workers / the bound, where the bound is N x detector-only fps,
// or decode-only fps when decoding is slower than that (the pipeline cannot outrun its input).
// `motion` is measured too, but it is stateful: it runs on one thread in frame order whatever the
// workers (`serial`), so its bound is 1 x detector-only fps (its model's update per frame).
// Efficiency against the work: the pipeline's fps over N x 1000 / (detector-only ms a frame + the
// none pipeline's processor time a frame), i.e. leaving out of the bound the work the cores must
// also do (decoding; with `encode`, annotating and encoding) and counting only how well the
// pipeline spreads it all over them.
//
// Errors: ConfigError for a bad input, detector or option (as `lookout run` words them) and for a
// live input (there is no fixed set of frames to measure); RuntimeError when a run fails, or when
// `stop` is set (Ctrl-C). Blocks for the whole benchmark; runs on the calling thread and the
// pipeline's own.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lookout/core/latency_histogram.h"
#include "lookout/core/source.h"

namespace lookout {

struct BenchSpec {
  std::string input;
  std::string detector;                                      // a detector type, e.g. "hog"
  std::vector<std::pair<std::string, std::string>> options;  // the detector's, KEY=VALUE
  std::int64_t frames = -1;       // at most this many frames of the input; -1: all
  std::size_t max_workers = 0;    // pipeline runs with 1 .. this many workers; 0: one per core
  bool encode = false;            // pipelines also annotate and encode an mp4
  std::size_t memory_budget = std::size_t{1} << 30;  // bytes of pre-decoded frames, detector only
  int passes = 1;                 // of detector only and of the widest pipeline; each keeps its fastest
};

struct BenchPipelineRun {
  std::size_t workers = 0;
  std::int64_t frames = 0;
  double wall_seconds = 0;
  double fps = 0;
  double efficiency = 0;       // fps / min(workers x detector fps, decode fps)
  LatencyHistogram end_to_end;
};

struct BenchResult {
  StreamInfo input;
  BenchSpec spec;
  std::size_t cores = 0;
  std::int64_t frames = 0;        // decoded in the decode-only pass
  double decode_fps = 0;          // the fastest decode-only pass
  std::int64_t detector_frames = 0;
  double detector_fps = 0;        // one thread
  bool serial = false;            // a stateful stage (motion): one thread, whatever the workers
  std::vector<BenchPipelineRun> pipeline;  // 1 .. max_workers workers
  double none_fps = 0;            // the none detector, max_workers workers: the fastest pass
  // Of the run with the most workers:
  bool decode_bound = false;      // decoding, not the detector, bounds the pipeline
  double bound_fps = 0;
  double efficiency = 0;
  double overhead_ratio = 0;      // none_fps / decode_fps; target >= 0.9
  // Processor time a frame, decode only over the none pipeline (each its lowest pass): the share
  // of the none pipeline's work that is decoding; steadier than the rates on a busy machine.
  double overhead_cpu_ratio = 0;
  // The none pipeline's processor time a frame (its lowest pass): decoding, and with `encode`
  // annotation and encoding, work the cores do besides the detector.
  double none_cpu_ms = 0;
  // N cores / (detector only's time a frame + none_cpu_ms): what N cores could reach doing the
  // detector and that work, and the pipeline's fps over it. 0 for a serial stage.
  double work_bound_fps = 0;
  double work_efficiency = 0;
  double peak_rss_mb = 0;         // after the pipeline runs, before pre-decoding
  // The machine's 1-minute load average before and after (getloadavg; -1 if unknown): anything
  // well above 0 means other programs competed for the cores and the figures are low.
  double load_start = -1;
  double load_end = -1;
};

// `progress` is told what is being measured (one line each), e.g. for a log message.
BenchResult run_bench(const BenchSpec& spec, const std::atomic<int>& stop,
                      const std::function<void(const std::string&)>& progress = {});

// A table for people (what, fps, ms a frame, notes).
std::string format_bench_table(const BenchResult& result);

// The same as one JSON document:
//   {"input":{"uri","width","height","fps","live","frame_count"},"detector","options":{},"cores",
//    "frames","video_encoding","decode_fps","detector_fps","detector_frames",
//    "detector_ms_per_frame","pipeline":[{"workers","frames","wall_seconds","fps","efficiency",
//    "latency_ms":{"p50","p90","p99","max"}}],"pipeline_fps","bound":"detector"|"decode",
//    "serial","bound_fps","efficiency","none_fps","overhead_ratio",
//    "overhead_cpu_ratio","none_cpu_ms","work_bound_fps","work_efficiency","latency_ms":{...},"peak_rss_mb",
//    "load_average":{"start","end"},"passes"}
std::string bench_json(const BenchResult& result);

}  // namespace lookout
