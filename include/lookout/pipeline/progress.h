#pragma once
// ProgressReporter: how a run shows its progress on stderr while it runs (the summary, on stdout,
// comes at the end and is not its business).
//
//   - A file input with a known length, when stderr is a terminal: a bar redrawn in place,
//       [##########----------]  312/795 frames  39%  9.8 fps  ETA 0:49
//     (frames done = processed + dropped + failed; fps over the last 5 s; ETA from both).
//   - Otherwise (live inputs, stderr piped or redirected): one line every `interval`,
//       lookout: stats: 1250 frames in, 25.0 fps, 1248 processed, 0 dropped, 0 failed, 2 in flight,
//       end-to-end p50 41.2 ms p99 80.3 ms, source streaming, 0 reconnects
//     where fps and the latency percentiles are over that interval, the counts since the start.
//   - An interval of 0 shows neither.
//
// Thread safety: thread-compatible; the runner's thread calls update() on every tick and finish()
// once. Never throws; blocks only to write to stderr.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "lookout/pipeline/run_monitor.h"

namespace lookout {

struct ProgressOptions {
  std::chrono::duration<double> interval{10.0};  // between stats lines; 0: no bar, no lines
  std::int64_t max_frames = -1;                  // --frames, which shortens the bar; -1: none
  bool terminal = false;                         // stderr is a terminal: a bar for files
};

class ProgressReporter {
 public:
  explicit ProgressReporter(ProgressOptions options);

  void update(const MonitorSnapshot& snapshot);
  // Erases the bar, if one is shown.
  void finish();

 private:
  ProgressOptions options_;
  bool decided_ = false;
  bool bar_ = false;
  std::int64_t total_ = -1;
  Clock::time_point last_draw_{};
  std::optional<MonitorSnapshot> last_line_;  // what the last stats line reported
};

// "[####------]  312/795 frames  39%  9.8 fps  ETA 0:49"; `width` is the bar's inside, in
// characters. fps <= 0 leaves the ETA out.
std::string format_progress_bar(std::int64_t done, std::int64_t total, double fps, int width = 30);

// The stats line for the interval from `previous` to `current` (two snapshots of one run).
std::string format_stats_line(const MonitorSnapshot& previous, const MonitorSnapshot& current);

}  // namespace lookout
