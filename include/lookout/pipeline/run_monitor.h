#pragma once
// RunMonitor: the latest picture of a running pipeline, for the progress display and the metrics
// server. One thread (the runner's, through RunObserver::tick) records Pipeline::stats() and the
// source's status about every 100 ms; any thread takes a consistent copy with snapshot(). What it
// adds to the raw report: frames in and out of each stage with names fit for metric labels, and
// the source's frame rate over a recent window.
//
// Ownership: plain values only; it holds no reference to the pipeline, so it outlives it safely.
// Thread safety: start(), record() and finish() from one thread; snapshot() from any. Never blocks
// for longer than a copy of the report.

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lookout/core/pipeline.h"
#include "lookout/core/source.h"

namespace lookout {

// One stage and the queue in front of it. Counts are items: a frame, or a marker for frames that
// were dropped or failed (detect sees only frames to process).
struct StageFlow {
  std::string name;          // "detect" for the detector stage; "reorder"; each serial stage's name
  std::int64_t in = 0;       // handed to the stage: out + waiting in its queue; never decreases
  std::int64_t out = 0;      // finished by the stage
  std::size_t queue_depth = 0;
  std::size_t queue_peak = 0;
  std::size_t queue_capacity = 0;
};

struct MonitorSnapshot {
  bool started = false;   // a pipeline is (or was) running: the fields below hold values
  bool finished = false;  // the run is over; `report` is the final one
  StreamInfo input;
  std::string detectors;  // the detector stage's detectors, e.g. "hog" or "hog+cascade"
  RunReport report;       // stage latencies: report.stages (service times, "reorder", "end-to-end")
  SourceStatus source;
  std::vector<StageFlow> stages;
  double source_fps = 0;  // frames the source delivered per second over the monitor's window
  Clock::time_point taken{};  // when `report` was taken
};

class RunMonitor {
 public:
  explicit RunMonitor(Clock::duration fps_window = std::chrono::seconds(5));

  void start(const StreamInfo& input, Clock::time_point now = Clock::now());
  void record(const RunReport& report, const SourceStatus& source, Clock::time_point now = Clock::now());
  // The final report; snapshot().finished is true from now on.
  void finish(const RunReport& report, const SourceStatus& source, Clock::time_point now = Clock::now());

  MonitorSnapshot snapshot() const;

 private:
  void update(const RunReport& report, const SourceStatus& source, Clock::time_point now);

  const Clock::duration fps_window_;
  mutable std::mutex mutex_;
  MonitorSnapshot current_;
  std::deque<std::pair<Clock::time_point, std::int64_t>> frames_in_;  // within fps_window_
};

}  // namespace lookout
