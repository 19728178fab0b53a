#include "lookout/pipeline/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>

#include <fmt/core.h>

namespace lookout {
namespace {

using Labels = std::initializer_list<std::pair<const char*, std::string>>;

constexpr double kQuantiles[] = {0.5, 0.9, 0.99};

// Collects one exposition: HELP and TYPE once per family, then its samples.
class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }

  void sample(const std::string& name, Labels labels, double value) {
    text_ += name;
    if (labels.size() > 0) {
      text_ += '{';
      bool first = true;
      for (const auto& [key, label] : labels) {
        text_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", key, escape_label_value(label));
        first = false;
      }
      text_ += '}';
    }
    text_ += ' ';
    text_ += number(value);
    text_ += '\n';
  }

  void sample(const std::string& name, Labels labels, std::int64_t value) {
    sample(name, labels, static_cast<double>(value));
  }

  // A summary of `histogram` in seconds, with `labels` on every sample (quantile added).
  void summary(const std::string& name, const std::pair<const char*, std::string>* label,
               const LatencyHistogram& histogram) {
    for (const double q : kQuantiles) {
      const double seconds = histogram.percentile_ms(q) / 1000.0;
      if (label != nullptr) {
        sample(name, {*label, {"quantile", number(q)}}, seconds);
      } else {
        sample(name, {{"quantile", number(q)}}, seconds);
      }
    }
    const double sum = histogram.total_ms() / 1000.0;
    const auto count = static_cast<std::int64_t>(histogram.count());
    if (label != nullptr) {
      sample(name + "_sum", {*label}, sum);
      sample(name + "_count", {*label}, count);
    } else {
      sample(name + "_sum", {}, sum);
      sample(name + "_count", {}, count);
    }
  }

  std::string take() { return std::move(text_); }

 private:
  static std::string number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    // Integers as integers (counts), everything else in the shortest form that reads back exactly.
    if (value == std::floor(value) && std::fabs(value) < 1e15) {
      return fmt::format("{}", static_cast<std::int64_t>(value));
    }
    return fmt::format("{}", value);
  }

  std::string text_;
};

const LatencyHistogram* find_latency(const RunReport& report, const std::string& name) {
  for (const auto& stage : report.stages) {
    if (stage.name == name) return &stage.latency;
  }
  return nullptr;
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::string format_prometheus(const MonitorSnapshot& snapshot,
                              std::chrono::system_clock::time_point now) {
  Exposition out;
  out.family("lookout_info", "gauge", "Always 1; the labels describe the run.");
  out.sample("lookout_info", {{"detectors", snapshot.detectors}}, std::int64_t{1});
  out.family("lookout_run_finished", "gauge", "1 once the run is over.");
  out.sample("lookout_run_finished", {}, std::int64_t{snapshot.finished ? 1 : 0});
  if (!snapshot.started) return out.take();

  const RunReport& report = snapshot.report;
  out.family("lookout_run_seconds", "gauge", "Seconds since the pipeline started.");
  out.sample("lookout_run_seconds", {}, report.wall_seconds);
  out.family("lookout_run_failed", "gauge", "1 once a fatal error stopped the run.");
  out.sample("lookout_run_failed", {}, std::int64_t{report.fatal_error ? 1 : 0});

  out.family("lookout_frames_in_total", "counter", "Frames the source delivered into the pipeline.");
  out.sample("lookout_frames_in_total", {}, report.frames_in);
  out.family("lookout_frames_processed_total", "counter", "Frames that reached the end of the pipeline ok.");
  out.sample("lookout_frames_processed_total", {}, report.processed);
  out.family("lookout_frames_dropped_total", "counter", "Frames dropped, by cause.");
  const std::int64_t other = report.dropped - report.dropped_pipeline_full - report.dropped_too_old -
                             report.dropped_stopping;
  out.sample("lookout_frames_dropped_total", {{"cause", "pipeline_full"}}, report.dropped_pipeline_full);
  out.sample("lookout_frames_dropped_total", {{"cause", "too_old"}}, report.dropped_too_old);
  out.sample("lookout_frames_dropped_total", {{"cause", "stopping"}}, report.dropped_stopping);
  out.sample("lookout_frames_dropped_total", {{"cause", "other"}}, other);
  out.family("lookout_frames_failed_total", "counter", "Frames a stage failed on.");
  out.sample("lookout_frames_failed_total", {}, report.failed);
  out.family("lookout_frames_in_flight", "gauge", "Frames between the entrance and the end now.");
  out.sample("lookout_frames_in_flight", {}, static_cast<std::int64_t>(report.in_flight));
  out.family("lookout_frames_in_flight_peak", "gauge", "The most frames in flight so far.");
  out.sample("lookout_frames_in_flight_peak", {}, static_cast<std::int64_t>(report.peak_in_flight));
  out.family("lookout_frames_in_flight_max", "gauge", "The bound on frames in flight.");
  out.sample("lookout_frames_in_flight_max", {}, static_cast<std::int64_t>(report.max_in_flight));

  out.family("lookout_stage_frames_in_total", "counter",
             "Frames (and markers) handed to the stage: finished or waiting in its queue.");
  for (const auto& stage : snapshot.stages) {
    out.sample("lookout_stage_frames_in_total", {{"stage", stage.name}}, stage.in);
  }
  out.family("lookout_stage_frames_out_total", "counter", "Frames (and markers) the stage finished.");
  for (const auto& stage : snapshot.stages) {
    out.sample("lookout_stage_frames_out_total", {{"stage", stage.name}}, stage.out);
  }
  out.family("lookout_stage_queue_depth", "gauge", "Items waiting in front of the stage now.");
  for (const auto& stage : snapshot.stages) {
    out.sample("lookout_stage_queue_depth", {{"stage", stage.name}},
               static_cast<std::int64_t>(stage.queue_depth));
  }
  out.family("lookout_stage_queue_peak", "gauge", "The most items that waited in front of the stage.");
  for (const auto& stage : snapshot.stages) {
    out.sample("lookout_stage_queue_peak", {{"stage", stage.name}}, static_cast<std::int64_t>(stage.queue_peak));
  }
  out.family("lookout_stage_queue_capacity", "gauge", "The bound of the queue in front of the stage.");
  for (const auto& stage : snapshot.stages) {
    out.sample("lookout_stage_queue_capacity", {{"stage", stage.name}},
               static_cast<std::int64_t>(stage.queue_capacity));
  }

  out.family("lookout_stage_service_seconds", "summary", "Time the stage took per frame, since the start.");
  for (std::size_t i = 0; i < report.stages.size() && i < snapshot.stages.size(); ++i) {
    if (snapshot.stages[i].name == "reorder") continue;  // a wait, not a service time: below
    const std::pair<const char*, std::string> label{"stage", snapshot.stages[i].name};
    out.summary("lookout_stage_service_seconds", &label, report.stages[i].latency);
  }
  if (const LatencyHistogram* wait = find_latency(report, "reorder")) {
    out.family("lookout_reorder_wait_seconds", "summary",
               "Time a finished frame waited for earlier ones, since the start.");
    out.summary("lookout_reorder_wait_seconds", nullptr, *wait);
  }
  if (const LatencyHistogram* age = find_latency(report, "end-to-end")) {
    out.family("lookout_end_to_end_seconds", "summary",
               "From capture to the end of the last stage, frames not dropped, since the start.");
    out.summary("lookout_end_to_end_seconds", nullptr, *age);
  }

  const SourceStatus& source = snapshot.source;
  const std::string& input = snapshot.input.uri;
  out.family("lookout_source_frames_total", "counter", "Frames the source read.");
  out.sample("lookout_source_frames_total", {{"input", input}},
             std::max(source.frames, report.frames_in));
  out.family("lookout_source_fps", "gauge", "Frames the source delivered per second, over the last 5 s.");
  out.sample("lookout_source_fps", {{"input", input}}, snapshot.source_fps);
  out.family("lookout_source_reconnects_total", "counter", "Times the stream was lost and came back.");
  out.sample("lookout_source_reconnects_total", {{"input", input}}, source.reconnects);
  out.family("lookout_source_reconnect_attempts_total", "counter",
             "Connection attempts after losses, failed ones included.");
  out.sample("lookout_source_reconnect_attempts_total", {{"input", input}}, source.reconnect_attempts);
  if (source.last_frame != std::chrono::system_clock::time_point{}) {
    out.family("lookout_source_last_frame_age_seconds", "gauge", "Seconds since the last frame arrived.");
    const double age = std::chrono::duration<double>(now - source.last_frame).count();
    out.sample("lookout_source_last_frame_age_seconds", {{"input", input}}, std::max(0.0, age));
  }
  out.family("lookout_source_state", "gauge", "1 for the source's current state, 0 for the others.");
  for (const auto state : {SourceStatus::State::kConnecting, SourceStatus::State::kStreaming,
                           SourceStatus::State::kReconnecting, SourceStatus::State::kEnded}) {
    out.sample("lookout_source_state", {{"input", input}, {"state", to_string(state)}},
               std::int64_t{source.state == state ? 1 : 0});
  }
  return out.take();
}

Health assess_health(const MonitorSnapshot& snapshot, std::chrono::system_clock::time_point now,
                     std::chrono::duration<double> stale_after) {
  if (!snapshot.started) return {false, "starting: the pipeline is not running yet"};
  if (snapshot.report.fatal_error) return {false, "failed: " + *snapshot.report.fatal_error};
  if (snapshot.finished) return {false, "finished: the run is over"};
  const SourceStatus& source = snapshot.source;
  switch (source.state) {
    case SourceStatus::State::kConnecting:
      return {false, "connecting: no frame from the input yet"};
    case SourceStatus::State::kReconnecting:
      return {false, fmt::format("reconnecting: the input was lost; {} reconnection attempt{} so far",
                                 source.reconnect_attempts, source.reconnect_attempts == 1 ? "" : "s")};
    case SourceStatus::State::kEnded:
      return {false, "ended: the input gives no more frames"};
    case SourceStatus::State::kStreaming:
      break;
  }
  // Sources that do not track their last frame (test fakes) are judged by their state alone.
  if (source.last_frame != std::chrono::system_clock::time_point{}) {
    const std::chrono::duration<double> age = now - source.last_frame;
    if (age > stale_after) {
      return {false, fmt::format("stalled: no frame from the input for {:.1f} s", age.count())};
    }
  }
  return {true, fmt::format("ok: streaming, {} frames in, {:.1f} fps", snapshot.report.frames_in,
                            snapshot.source_fps)};
}

}  // namespace lookout
