// A live input faster than the detector, through the command: the entrance drops and counts, the
// bounds hold, every seq reaches the metadata once, and the ways of stopping (--duration, Ctrl-C,
// a second Ctrl-C) all leave a playable mp4. Assertions are on counts and bounds, never timings.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

using nlohmann::json;
using testing::ProcessResult;
using testing::count_frames;
using testing::make_temp_dir;
using testing::read_jsonl;
using testing::run_lookout;
using testing::short_run;

constexpr auto kTimeout = std::chrono::seconds(120);

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

struct LiveRun {
  std::string dir = make_temp_dir("live-overload");
  std::string video = dir + "/out.mp4";
  std::string metadata = dir + "/out.jsonl";
  std::string summary = dir + "/summary.json";

  // A 320x240 live ball at `fps` through hog on one worker (hog takes tens of ms a frame there).
  std::vector<std::string> args(int fps, std::vector<std::string> extra) const {
    std::vector<std::string> all{"run", "--input", "test:ball", "--width", "320", "--height", "240",
                                 "--fps", std::to_string(fps), "--detector", "hog", "--workers", "1",
                                 "--output", video, "--metadata", metadata, "--summary-json", summary};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }
};

void expect_every_seq_once_in_order(const std::string& metadata, std::int64_t frames) {
  const auto lines = read_jsonl(metadata);
  ASSERT_EQ(static_cast<std::int64_t>(lines.size()), frames);
  for (std::int64_t i = 0; i < frames; ++i) {
    EXPECT_EQ(lines[static_cast<std::size_t>(i)]["seq"], i);
  }
}

TEST(LiveOverload, DropsAreCountedByCauseTheInvariantHoldsAndNoQueuePassesItsBound) {
  LiveRun run;
  const std::int64_t frames = short_run() ? 60 : 150;
  const ProcessResult result =
      run_lookout(run.args(100, {"--frames", std::to_string(frames)}), kTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const json summary = read_json(run.summary);
  const json& counts = summary["frames"];
  EXPECT_EQ(summary["drop_policy"], "oldest") << "live inputs drop the oldest frame by default";
  EXPECT_EQ(counts["in"], frames);
  EXPECT_TRUE(counts["balanced"].get<bool>());
  EXPECT_EQ(counts["processed"].get<std::int64_t>() + counts["dropped"].get<std::int64_t>() +
                counts["failed"].get<std::int64_t>(),
            frames);
  EXPECT_GT(counts["dropped_by_cause"]["pipeline_full"].get<std::int64_t>(), 0)
      << "hog cannot keep up with 100 fps";
  EXPECT_GT(counts["processed"].get<std::int64_t>(), 0);
  const json& bounds = summary["bounds"];
  EXPECT_LE(bounds["peak_in_flight"], bounds["max_in_flight"]);
  EXPECT_LE(bounds["peak_reorder"], bounds["reorder_capacity"]);

  expect_every_seq_once_in_order(run.metadata, frames);
  std::int64_t dropped_lines = 0;
  for (const auto& line : read_jsonl(run.metadata)) {
    if (line["status"] == "dropped") {
      ++dropped_lines;
      EXPECT_EQ(line["cause"], "pipeline_full");
    }
  }
  EXPECT_EQ(dropped_lines, counts["dropped"].get<std::int64_t>());
  EXPECT_EQ(count_frames(run.video), counts["processed"].get<std::int64_t>())
      << "the video holds exactly the processed frames";
}

TEST(LiveOverload, BlockPolicyWithAMaximumAgeDropsFramesTooOldToBeWorthIt) {
  LiveRun run;
  const std::int64_t frames = short_run() ? 30 : 60;
  const ProcessResult result = run_lookout(
      run.args(100, {"--frames", std::to_string(frames), "--drop-policy", "block", "--max-age-ms", "1"}),
      kTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json counts = read_json(run.summary)["frames"];
  EXPECT_EQ(counts["in"], frames);
  EXPECT_TRUE(counts["balanced"].get<bool>());
  EXPECT_EQ(counts["dropped_by_cause"]["pipeline_full"], 0) << "block never drops at the entrance";
  EXPECT_GT(counts["dropped_by_cause"]["too_old"].get<std::int64_t>(), 0);
  expect_every_seq_once_in_order(run.metadata, frames);
}

TEST(LiveOverload, DurationStopsCaptureAndTheMp4Plays) {
  LiveRun run;
  const ProcessResult result = run_lookout(run.args(25, {"--duration", "1.5"}), kTimeout);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json summary = read_json(run.summary);
  EXPECT_TRUE(summary["stopped_early"].get<bool>());
  const std::int64_t in = summary["frames"]["in"].get<std::int64_t>();
  EXPECT_GT(in, 0);
  EXPECT_TRUE(summary["frames"]["balanced"].get<bool>());
  expect_every_seq_once_in_order(run.metadata, in);
  EXPECT_EQ(count_frames(run.video), summary["frames"]["processed"].get<std::int64_t>());
}

TEST(LiveOverload, CtrlCDrainsAndTheMp4Plays) {
  LiveRun run;
  testing::SignalPlan plan;
  plan.signal = SIGINT;
  plan.after = std::chrono::milliseconds(2000);
  const ProcessResult result = run_lookout(run.args(25, {"--drop-policy", "block"}), kTimeout, plan);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("press Ctrl-C again to stop at once"), std::string::npos) << result.err;
  const json summary = read_json(run.summary);
  EXPECT_TRUE(summary["stopped_early"].get<bool>());
  EXPECT_EQ(summary["frames"]["dropped"], 0) << "a first Ctrl-C finishes every admitted frame";
  EXPECT_EQ(count_frames(run.video), summary["frames"]["processed"].get<std::int64_t>());
}

TEST(LiveOverload, SecondCtrlCStopsAtOnceAndStillFinalisesTheMp4) {
  LiveRun run;
  testing::SignalPlan plan;
  plan.signal = SIGINT;
  plan.after = std::chrono::milliseconds(2000);
  plan.repeat = 2;
  plan.interval = std::chrono::milliseconds(20);
  // Blocking keeps up to 7 admitted frames waiting for the one worker, far more than it can finish
  // before the second Ctrl-C is seen; those are dropped instead.
  const ProcessResult result = run_lookout(
      run.args(100, {"--drop-policy", "block", "--max-in-flight", "8"}), kTimeout, plan);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json summary = read_json(run.summary);
  const json& counts = summary["frames"];
  EXPECT_TRUE(summary["stopped_early"].get<bool>());
  EXPECT_TRUE(counts["balanced"].get<bool>());
  EXPECT_EQ(counts["dropped"], counts["dropped_by_cause"]["stopping"]);
  EXPECT_GT(counts["dropped_by_cause"]["stopping"].get<std::int64_t>(), 0);
  expect_every_seq_once_in_order(run.metadata, counts["in"].get<std::int64_t>());
  EXPECT_EQ(count_frames(run.video), counts["processed"].get<std::int64_t>());
}

}  // namespace
}  // namespace lookout
