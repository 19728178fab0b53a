// The pure parts of observability: Prometheus formatting and health of a hand-made snapshot, the
// RunMonitor's stage flows and frame rate, the progress bar and stats line, and the `none`
// detector. No pipeline, no server, no clock: times are given.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <opencv2/core.hpp>

#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "lookout/pipeline/metrics.h"
#include "lookout/pipeline/progress.h"
#include "lookout/pipeline/run_monitor.h"
#include "support/prometheus.h"
#include "support/text_match.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;
using testing::parse_prometheus;
using WallClock = std::chrono::system_clock;

LatencyHistogram histogram_of(std::initializer_list<std::chrono::milliseconds> durations) {
  LatencyHistogram histogram;
  for (const auto duration : durations) histogram.record(duration);
  return histogram;
}

// A run of 120 frames in: 100 processed, 15 dropped (10 pipeline full, 3 too old, 2 at stop),
// 5 failed; stages as the pipeline reports them.
RunReport sample_report() {
  RunReport report;
  report.frames_in = 120;
  report.processed = 100;
  report.dropped_pipeline_full = 10;
  report.dropped_too_old = 3;
  report.dropped_stopping = 2;
  report.dropped = 15;
  report.failed = 5;
  report.in_flight = 4;
  report.peak_in_flight = 6;
  report.max_in_flight = 8;
  report.wall_seconds = 12.5;
  report.queues = {{"detect (hog)", 2, 5, 8}, {"reorder", 1, 3, 17}, {"annotate", 0, 2, 8}, {"metadata", 1, 1, 8}};
  report.stages = {{"detect (hog)", histogram_of({100ms, 200ms, 300ms})},
                   {"reorder", histogram_of({1ms, 2ms})},
                   {"annotate", histogram_of({2ms})},
                   {"metadata", histogram_of({1ms, 1ms, 1ms, 1ms})},
                   {"end-to-end", histogram_of({400ms, 500ms})}};
  return report;
}

MonitorSnapshot sample_snapshot(const std::string& uri = "rtsp://***@camera/stream \"1\"") {
  RunMonitor monitor;
  StreamInfo input;
  input.uri = uri;
  input.width = 320;
  input.height = 240;
  input.live = true;
  const Clock::time_point start{};
  monitor.start(input, start);
  SourceStatus source;
  source.state = SourceStatus::State::kStreaming;
  source.frames = 120;
  source.reconnects = 2;
  source.reconnect_attempts = 5;
  source.last_frame = WallClock::time_point{} + 1000s;
  monitor.record(sample_report(), source, start + 4s);
  return monitor.snapshot();
}

const WallClock::time_point kNow = WallClock::time_point{} + 1000s + 1500ms;

TEST(PrometheusFormat, EveryLineIsWellFormedAndEverySampleHasAType) {
  const auto exposition = parse_prometheus(format_prometheus(sample_snapshot(), kNow));
  EXPECT_TRUE(exposition.problems.empty()) << ::testing::PrintToString(exposition.problems);
  EXPECT_GT(exposition.samples.size(), 50U);
  for (const auto& sample : exposition.samples) {
    EXPECT_EQ(sample.name.rfind("lookout_", 0), 0U) << sample.name;
  }
  EXPECT_EQ(exposition.types.at("lookout_frames_in_total"), "counter");
  EXPECT_EQ(exposition.types.at("lookout_stage_queue_depth"), "gauge");
  EXPECT_EQ(exposition.types.at("lookout_stage_service_seconds"), "summary");
  EXPECT_EQ(exposition.types.at("lookout_end_to_end_seconds"), "summary");
}

TEST(PrometheusFormat, RunCountersAreTheReportsCounts) {
  const auto metrics = parse_prometheus(format_prometheus(sample_snapshot(), kNow));
  EXPECT_EQ(metrics.value("lookout_frames_in_total"), 120);
  EXPECT_EQ(metrics.value("lookout_frames_processed_total"), 100);
  EXPECT_EQ(metrics.value("lookout_frames_failed_total"), 5);
  EXPECT_EQ(metrics.value("lookout_frames_dropped_total", {{"cause", "pipeline_full"}}), 10);
  EXPECT_EQ(metrics.value("lookout_frames_dropped_total", {{"cause", "too_old"}}), 3);
  EXPECT_EQ(metrics.value("lookout_frames_dropped_total", {{"cause", "stopping"}}), 2);
  EXPECT_EQ(metrics.value("lookout_frames_dropped_total", {{"cause", "other"}}), 0);
  EXPECT_EQ(metrics.value("lookout_frames_in_flight"), 4);
  EXPECT_EQ(metrics.value("lookout_frames_in_flight_peak"), 6);
  EXPECT_EQ(metrics.value("lookout_frames_in_flight_max"), 8);
  EXPECT_EQ(metrics.value("lookout_run_seconds"), 12.5);
  EXPECT_EQ(metrics.value("lookout_run_failed"), 0);
  EXPECT_EQ(metrics.value("lookout_run_finished"), 0);
  EXPECT_EQ(metrics.value("lookout_info", {{"detectors", "hog"}}), 1);
}

TEST(PrometheusFormat, StagesAreLabelledWithTheirQueuesAndFlows) {
  const auto metrics = parse_prometheus(format_prometheus(sample_snapshot(), kNow));
  // The detector stage is "detect" whatever its detectors; out = frames it served, in = out + waiting.
  EXPECT_EQ(metrics.value("lookout_stage_frames_out_total", {{"stage", "detect"}}), 3);
  EXPECT_EQ(metrics.value("lookout_stage_frames_in_total", {{"stage", "detect"}}), 5);
  EXPECT_EQ(metrics.value("lookout_stage_queue_depth", {{"stage", "detect"}}), 2);
  EXPECT_EQ(metrics.value("lookout_stage_queue_peak", {{"stage", "detect"}}), 5);
  EXPECT_EQ(metrics.value("lookout_stage_queue_capacity", {{"stage", "reorder"}}), 17);
  EXPECT_EQ(metrics.value("lookout_stage_frames_out_total", {{"stage", "metadata"}}), 4);
  EXPECT_EQ(metrics.value("lookout_stage_frames_in_total", {{"stage", "metadata"}}), 5);
  EXPECT_FALSE(metrics.value("lookout_stage_frames_out_total", {{"stage", "detect (hog)"}}));
}

TEST(PrometheusFormat, LatenciesAreSummariesInSeconds) {
  const auto metrics = parse_prometheus(format_prometheus(sample_snapshot(), kNow));
  const auto median = metrics.value("lookout_stage_service_seconds", {{"stage", "detect"}, {"quantile", "0.5"}});
  ASSERT_TRUE(median);
  EXPECT_NEAR(*median, 0.2, 0.2 * 0.05);
  const auto top = metrics.value("lookout_stage_service_seconds", {{"stage", "detect"}, {"quantile", "0.99"}});
  ASSERT_TRUE(top);
  EXPECT_NEAR(*top, 0.3, 0.3 * 0.05);
  EXPECT_TRUE(metrics.value("lookout_stage_service_seconds", {{"stage", "detect"}, {"quantile", "0.9"}}));
  EXPECT_EQ(metrics.value("lookout_stage_service_seconds_count", {{"stage", "detect"}}), 3);
  EXPECT_NEAR(*metrics.value("lookout_stage_service_seconds_sum", {{"stage", "detect"}}), 0.6, 1e-9);
  // The reorder stage waits rather than serves: it has a summary of its own.
  EXPECT_FALSE(metrics.value("lookout_stage_service_seconds", {{"stage", "reorder"}}));
  EXPECT_EQ(metrics.value("lookout_reorder_wait_seconds_count"), 2);
  EXPECT_EQ(metrics.value("lookout_end_to_end_seconds_count"), 2);
  EXPECT_NEAR(*metrics.value("lookout_end_to_end_seconds", {{"quantile", "0.99"}}), 0.5, 0.5 * 0.05);
}

TEST(PrometheusFormat, SourceMetricsCarryTheInputAndOneStateIsSet) {
  const std::string uri = "rtsp://***@camera/stream \"1\"";
  const std::string text = format_prometheus(sample_snapshot(uri), kNow);
  // The quotes in the input are escaped in the text and come back whole.
  EXPECT_NE(text.find(R"(input="rtsp://***@camera/stream \"1\"")"), std::string::npos) << text;
  const auto metrics = parse_prometheus(text);
  EXPECT_EQ(metrics.value("lookout_source_frames_total", {{"input", uri}}), 120);
  EXPECT_EQ(metrics.value("lookout_source_reconnects_total", {{"input", uri}}), 2);
  EXPECT_EQ(metrics.value("lookout_source_reconnect_attempts_total", {{"input", uri}}), 5);
  EXPECT_NEAR(*metrics.value("lookout_source_last_frame_age_seconds", {{"input", uri}}), 1.5, 1e-9);
  EXPECT_NEAR(*metrics.value("lookout_source_fps", {{"input", uri}}), 30.0, 1e-9);  // 120 frames in 4 s
  EXPECT_EQ(metrics.value("lookout_source_state", {{"state", "streaming"}}), 1);
  for (const char* other : {"connecting", "reconnecting", "ended"}) {
    EXPECT_EQ(metrics.value("lookout_source_state", {{"state", other}}), 0) << other;
  }
}

TEST(PrometheusFormat, BeforeThePipelineStartsOnlyTheRunsStateIsWritten) {
  const auto metrics = parse_prometheus(format_prometheus(MonitorSnapshot{}, kNow));
  EXPECT_TRUE(metrics.problems.empty());
  EXPECT_EQ(metrics.value("lookout_run_finished"), 0);
  EXPECT_FALSE(metrics.value("lookout_frames_in_total"));
}

TEST(PrometheusFormat, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(Health, FramesFlowingIsHealthy) {
  const Health health = assess_health(sample_snapshot(), kNow);
  EXPECT_TRUE(health.ok) << health.reason;
  EXPECT_EQ(health.reason.rfind("ok: ", 0), 0U) << health.reason;
}

TEST(Health, EachReasonToBeUnhealthyIsNamed) {
  EXPECT_EQ(assess_health(MonitorSnapshot{}, kNow).reason.rfind("starting", 0), 0U);

  MonitorSnapshot reconnecting = sample_snapshot();
  reconnecting.source.state = SourceStatus::State::kReconnecting;
  const Health lost = assess_health(reconnecting, kNow);
  EXPECT_FALSE(lost.ok);
  EXPECT_NE(lost.reason.find("reconnecting"), std::string::npos) << lost.reason;
  EXPECT_NE(lost.reason.find("5 reconnection attempts"), std::string::npos) << lost.reason;

  const Health stale = assess_health(sample_snapshot(), kNow + 10s);
  EXPECT_FALSE(stale.ok);
  EXPECT_NE(stale.reason.find("no frame from the input for 11.5 s"), std::string::npos) << stale.reason;
  EXPECT_TRUE(assess_health(sample_snapshot(), kNow + 10s, 20s).ok);

  MonitorSnapshot failed = sample_snapshot();
  failed.report.fatal_error = "encode: disk full";
  EXPECT_EQ(assess_health(failed, kNow).reason, "failed: encode: disk full");

  MonitorSnapshot over = sample_snapshot();
  over.finished = true;
  EXPECT_FALSE(assess_health(over, kNow).ok);

  MonitorSnapshot ended = sample_snapshot();
  ended.source.state = SourceStatus::State::kEnded;
  EXPECT_FALSE(assess_health(ended, kNow).ok);
}

TEST(RunMonitor, StageInflowNeverGoesBackWhenAQueueShrinks) {
  RunMonitor monitor;
  monitor.start(StreamInfo{}, Clock::time_point{});
  RunReport report = sample_report();
  monitor.record(report, SourceStatus{}, Clock::time_point{} + 1s);
  EXPECT_EQ(monitor.snapshot().stages.front().in, 5);
  report.queues.front().depth = 0;  // the approximate size went down without the stage serving
  monitor.record(report, SourceStatus{}, Clock::time_point{} + 2s);
  EXPECT_EQ(monitor.snapshot().stages.front().in, 5);
  EXPECT_EQ(monitor.snapshot().stages.front().queue_depth, 0U);
}

TEST(RunMonitor, FrameRateIsOverTheRecentWindowOnly) {
  RunMonitor monitor(5s);
  monitor.start(StreamInfo{}, Clock::time_point{});
  RunReport report;
  // 10 fps for 10 s, then nothing for 6 s: the last 5 s saw no frame.
  for (int second = 1; second <= 10; ++second) {
    report.frames_in = second * 10;
    monitor.record(report, SourceStatus{}, Clock::time_point{} + std::chrono::seconds(second));
  }
  EXPECT_NEAR(monitor.snapshot().source_fps, 10.0, 1e-9);
  for (int second = 11; second <= 16; ++second) {
    monitor.record(report, SourceStatus{}, Clock::time_point{} + std::chrono::seconds(second));
  }
  EXPECT_NEAR(monitor.snapshot().source_fps, 0.0, 1e-9);
  monitor.finish(report, SourceStatus{}, Clock::time_point{} + 17s);
  EXPECT_TRUE(monitor.snapshot().finished);
}

TEST(Progress, BarShowsDoneOfTotalPercentRateAndTimeLeft) {
  EXPECT_EQ(format_progress_bar(25, 100, 5.0, 10), "[##--------]  25/100 frames  25%  5.0 fps  ETA 0:15");
  EXPECT_EQ(format_progress_bar(0, 7950, 0.0, 4), "[----]  0/7950 frames  0%");
  EXPECT_EQ(format_progress_bar(100, 100, 2.0, 4), "[####]  100/100 frames  100%  2.0 fps  ETA 0:00");
  EXPECT_EQ(format_progress_bar(0, 36000, 1.0, 4), "[----]  0/36000 frames  0%  1.0 fps  ETA 10:00:00");
}

TEST(Progress, StatsLineCountsSinceTheStartAndRatesOverTheInterval) {
  MonitorSnapshot before = sample_snapshot();
  MonitorSnapshot after = before;
  after.taken = before.taken + 10s;
  after.report.frames_in = before.report.frames_in + 250;
  // The interval's end-to-end latencies: ten frames at 40 ms, whatever came before.
  for (auto& stage : after.report.stages) {
    if (stage.name == "end-to-end") {
      for (int i = 0; i < 10; ++i) stage.latency.record(40ms);
    }
  }
  const std::string line = format_stats_line(before, after);
  EXPECT_EQ(line.rfind("lookout: stats: 370 frames in, 25.0 fps, 100 processed, 15 dropped, 5 failed, 4 in flight", 0), 0U)
      << line;
  // Without the earlier 400 and 500 ms frames: 40 ms to within a bucket (5%).
  const auto latency =
      testing::regex_search(line, R"(end-to-end p50 ([0-9.]+) ms p99 ([0-9.]+) ms)");
  ASSERT_TRUE(latency) << line;
  EXPECT_NEAR(std::stod((*latency)[1]), 40.0, 40.0 * 0.05) << line;
  EXPECT_NEAR(std::stod((*latency)[2]), 40.0, 40.0 * 0.05) << line;
  EXPECT_NE(line.find("source streaming, 2 reconnects"), std::string::npos) << line;
  EXPECT_NE(format_stats_line(after, after).find("end-to-end -"), std::string::npos);
}

TEST(NoneDetector, FindsNothingAndTakesNoOptions) {
  auto detector = make_detector_factory({"none", Options("--detector none")})();
  EXPECT_TRUE(detector->detect(cv::Mat(48, 64, CV_8UC3, cv::Scalar(0, 0, 255))).empty());
  Options options("--detector none");
  options.set("scale", "1.1", "--opt");
  try {
    make_detector_factory({"none", options});
    ADD_FAILURE() << "an option of none was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("unknown option 'scale'; --detector none takes no options"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace lookout
