#include "lookout/pipeline/progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "lookout/pipeline/logging.h"

namespace lookout {
namespace {

// Redrawing faster than this only flickers.
constexpr auto kBarRedraw = std::chrono::milliseconds(250);

std::string clock_text(double seconds) {
  const auto total = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
  const std::int64_t hours = total / 3600;
  const std::int64_t minutes = total / 60 % 60;
  const std::int64_t secs = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
  return fmt::format("{}:{:02}", minutes, secs);
}

const LatencyHistogram* end_to_end(const RunReport& report) {
  for (const auto& stage : report.stages) {
    if (stage.name == "end-to-end") return &stage.latency;
  }
  return nullptr;
}

}  // namespace

std::string format_progress_bar(std::int64_t done, std::int64_t total, double fps, int width) {
  width = std::max(width, 1);
  const double fraction = total > 0 ? std::clamp(double(done) / double(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(fraction * width);
  std::string text = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
  text += fmt::format("  {}/{} frames  {}%", done, total, static_cast<int>(fraction * 100.0));
  if (fps > 0) {
    text += fmt::format("  {:.1f} fps  ETA {}", fps, clock_text(double(std::max<std::int64_t>(0, total - done)) / fps));
  }
  return text;
}

std::string format_stats_line(const MonitorSnapshot& previous, const MonitorSnapshot& current) {
  const RunReport& now = current.report;
  const double seconds = std::chrono::duration<double>(current.taken - previous.taken).count();
  const double fps = seconds > 0 ? double(now.frames_in - previous.report.frames_in) / seconds : 0.0;
  std::string text = fmt::format("lookout: stats: {} frames in, {:.1f} fps, {} processed, {} dropped, {} failed, {} in flight",
                                 now.frames_in, fps, now.processed, now.dropped, now.failed, now.in_flight);
  const LatencyHistogram* latest = end_to_end(now);
  const LatencyHistogram* before = end_to_end(previous.report);
  if (latest != nullptr) {
    const LatencyHistogram window = before != nullptr ? latest->since(*before) : *latest;
    if (window.count() > 0) {
      text += fmt::format(", end-to-end p50 {:.1f} ms p99 {:.1f} ms", window.percentile_ms(0.50),
                          window.percentile_ms(0.99));
    } else {
      text += ", end-to-end -";
    }
  }
  text += fmt::format(", source {}, {} reconnect{}", to_string(current.source.state),
                      current.source.reconnects, current.source.reconnects == 1 ? "" : "s");
  return text;
}

ProgressReporter::ProgressReporter(ProgressOptions options) : options_(options) {}

void ProgressReporter::update(const MonitorSnapshot& snapshot) {
  if (!snapshot.started || options_.interval.count() <= 0) return;
  if (!decided_) {
    decided_ = true;
    total_ = snapshot.input.frame_count;
    if (options_.max_frames >= 0 && (total_ < 0 || options_.max_frames < total_)) {
      total_ = snapshot.input.live ? -1 : options_.max_frames;
    }
    bar_ = options_.terminal && !snapshot.input.live && total_ > 0;
  }
  if (bar_) {
    if (last_draw_ != Clock::time_point{} && snapshot.taken - last_draw_ < kBarRedraw) return;
    last_draw_ = snapshot.taken;
    const RunReport& report = snapshot.report;
    show_status_line(format_progress_bar(report.processed + report.dropped + report.failed, total_,
                                         snapshot.source_fps));
    return;
  }
  if (!last_line_) {
    last_line_ = snapshot;  // the start of the first interval
    return;
  }
  if (snapshot.taken - last_line_->taken <
      std::chrono::duration_cast<Clock::duration>(options_.interval)) {
    return;
  }
  print_line(format_stats_line(*last_line_, snapshot));
  last_line_ = snapshot;
}

void ProgressReporter::finish() {
  if (bar_) show_status_line("");
}

}  // namespace lookout
