#include "lookout/pipeline/run_monitor.h"

#include <algorithm>

namespace lookout {
namespace {

// "detect (hog+cascade)" -> "hog+cascade"; a name without parentheses is kept whole.
std::string detectors_of(const std::string& stage_name) {
  const auto open = stage_name.find('(');
  const auto close = stage_name.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return stage_name;
  return stage_name.substr(open + 1, close - open - 1);
}

}  // namespace

RunMonitor::RunMonitor(Clock::duration fps_window) : fps_window_(fps_window) {}

void RunMonitor::start(const StreamInfo& input, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  current_ = MonitorSnapshot{};
  current_.input = input;
  current_.taken = now;
  frames_in_.clear();
  frames_in_.emplace_back(now, 0);
}

void RunMonitor::record(const RunReport& report, const SourceStatus& source, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  update(report, source, now);
}

void RunMonitor::finish(const RunReport& report, const SourceStatus& source, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  update(report, source, now);
  current_.finished = true;
  current_.source_fps = 0;
}

MonitorSnapshot RunMonitor::snapshot() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void RunMonitor::update(const RunReport& report, const SourceStatus& source, Clock::time_point now) {
  current_.started = true;
  current_.report = report;
  current_.source = source;
  current_.taken = now;

  // The pipeline reports its queues as [detector stage, reorder, serial stages...] and its
  // latencies in the same order, followed by "end-to-end".
  std::vector<StageFlow> stages;
  for (std::size_t i = 0; i < report.queues.size(); ++i) {
    const QueueReport& queue = report.queues[i];
    StageFlow flow;
    flow.name = i == 0 ? "detect" : queue.name;
    if (i < report.stages.size()) flow.out = static_cast<std::int64_t>(report.stages[i].latency.count());
    flow.queue_depth = queue.depth;
    flow.queue_peak = queue.peak;
    flow.queue_capacity = queue.capacity;
    // A queue's size is approximate while it is in use; never let a counter go back.
    flow.in = flow.out + static_cast<std::int64_t>(queue.depth);
    if (i < current_.stages.size() && current_.stages[i].name == flow.name) {
      flow.in = std::max(flow.in, current_.stages[i].in);
    }
    stages.push_back(std::move(flow));
  }
  current_.stages = std::move(stages);
  if (!report.stages.empty()) current_.detectors = detectors_of(report.stages.front().name);

  frames_in_.emplace_back(now, report.frames_in);
  while (frames_in_.size() > 2 && frames_in_[1].first <= now - fps_window_) frames_in_.pop_front();
  const auto& [first_time, first_frames] = frames_in_.front();
  const double seconds = std::chrono::duration<double>(now - first_time).count();
  current_.source_fps = seconds > 0 ? static_cast<double>(report.frames_in - first_frames) / seconds : 0.0;
}

}  // namespace lookout
