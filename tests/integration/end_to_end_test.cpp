// End to end through the `lookout` command on real video: the produced files are read back with
// OpenCV (independently of lookout's own capture code) and their frames counted.

#include <csignal>

#include <gtest/gtest.h>
#include <opencv2/videoio.hpp>

#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;
using testing::count_frames;
using testing::read_jsonl;
using testing::run_lookout;

TEST(FacesEndToEnd, FaceCascadeFindsAFaceInMostFramesOfMegamind) {
  const std::string dir = testing::make_temp_dir("faces");
  // The first 120 frames (30 in short runs): the face is in view throughout, and the whole clip
  // would only repeat the same scene at several times the cost.
  const std::int64_t frames = testing::short_run() ? 30 : 120;
  const std::string input = dir + "/megamind-" + std::to_string(frames) + ".avi";
  testing::cut_clip(testing::sample_path("Megamind.avi"), input, static_cast<int>(frames));
  const auto result = run_lookout({"run", std::string(LOOKOUT_SOURCE_DIR) + "/pipelines/faces.yaml", "--input",
                                   input, "--output", dir + "/faces.mkv", "--metadata", dir + "/faces.jsonl"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count_frames(dir + "/faces.mkv"), frames);
  const auto lines = read_jsonl(dir + "/faces.jsonl");
  ASSERT_EQ(static_cast<std::int64_t>(lines.size()), frames);
  std::int64_t with_face = 0;
  for (const auto& line : lines) {
    for (const auto& detection : line.at("detections")) {
      EXPECT_EQ(detection.at("label").get<std::string>(), "face");
    }
    with_face += !line.at("detections").empty();
  }
  EXPECT_GT(with_face, frames / 2) << with_face << " of " << frames;
}

TEST(OddSizeEndToEnd, ClipWithOddWidthAndHeightRunsEndToEnd) {
  const std::string dir = testing::make_temp_dir("odd");
  const std::string input = dir + "/odd-642x481.mp4";
  testing::generate_clip(input, 642, 481, 20);
  const auto result = run_lookout({"run", "--input", input, "--detector", "hog", "--opt", "downscale=0.5",
                                   "--output", dir + "/odd.mp4", "--metadata", dir + "/odd.jsonl"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count_frames(dir + "/odd.mp4"), 20);
  cv::VideoCapture capture(dir + "/odd.mp4");
  EXPECT_EQ(capture.get(cv::CAP_PROP_FRAME_WIDTH), 642);
  EXPECT_EQ(capture.get(cv::CAP_PROP_FRAME_HEIGHT), 481);
  EXPECT_EQ(read_jsonl(dir + "/odd.jsonl").size(), 20u);
}

TEST(StopEndToEnd, CtrlCStopsCaptureAndLeavesPlayableFiles) {
  const std::string dir = testing::make_temp_dir("sigint");
  const std::string input = dir + "/long.mkv";
  testing::generate_clip(input, 320, 240, 3000);
  const auto result = run_lookout({"run", "--input", input, "--detector", "hog", "--workers", "1", "--output",
                                   dir + "/out.mp4", "--metadata", dir + "/out.jsonl"},
                                  std::chrono::seconds(300), {SIGINT, 3s});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("(stopped early)"), std::string::npos) << result.out;
  const auto lines = read_jsonl(dir + "/out.jsonl");
  ASSERT_GT(lines.size(), 0u);
  EXPECT_LT(lines.size(), 3000u);
  EXPECT_EQ(count_frames(dir + "/out.mp4"), static_cast<std::int64_t>(lines.size()));
}

TEST(FramesFlagEndToEnd, StopsAfterExactlyThatManyFrames) {
  const std::string dir = testing::make_temp_dir("frames");
  const std::string input = dir + "/clip.mp4";
  testing::generate_clip(input, 320, 240, 50);
  const auto result = run_lookout({"run", "--input", input, "--detector", "cascade", "--frames", "12", "--output",
                                   dir + "/out.mkv", "--metadata", dir + "/out.jsonl"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(count_frames(dir + "/out.mkv"), 12);
  EXPECT_EQ(read_jsonl(dir + "/out.jsonl").size(), 12u);
}

}  // namespace
}  // namespace lookout
