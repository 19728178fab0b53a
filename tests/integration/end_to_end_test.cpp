// End to end through the `lookout` command on real video: the produced files are read back with
// OpenCV (independently of lookout's own capture code) and their frames counted.

#include <csignal>
#include <filesystem>
#include <map>

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

struct PeopleRun {
  testing::ProcessResult process;
  std::string video;
  std::string metadata;
};

PeopleRun run_people(const std::string& input, const std::string& dir, int workers) {
  PeopleRun run;
  run.video = dir + "/people-" + std::to_string(workers) + ".mp4";
  run.metadata = dir + "/people-" + std::to_string(workers) + ".jsonl";
  run.process = run_lookout({"run", std::string(LOOKOUT_SOURCE_DIR) + "/pipelines/people.yaml", "--input", input,
                             "--workers", std::to_string(workers), "--output", run.video, "--metadata",
                             run.metadata});
  return run;
}

// The people pipeline on vtest.avi (795 frames), or on its first 40 frames in short runs, with 2
// workers; run once and shared by the tests below, since hog on every frame takes a while.
class PeopleEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("people"));
    input_ = new std::string(testing::sample_path("vtest.avi"));
    expected_frames_ = 795;
    if (testing::short_run()) {
      *input_ = *dir_ + "/vtest-40.avi";
      testing::cut_clip(testing::sample_path("vtest.avi"), *input_, 40);
      expected_frames_ = 40;
    }
    two_ = new PeopleRun(run_people(*input_, *dir_, 2));
  }
  static void TearDownTestSuite() {
    delete two_;
    delete input_;
    delete dir_;
  }

  static std::string* dir_;
  static std::string* input_;
  static PeopleRun* two_;
  static std::int64_t expected_frames_;
};
std::string* PeopleEndToEnd::dir_ = nullptr;
std::string* PeopleEndToEnd::input_ = nullptr;
PeopleRun* PeopleEndToEnd::two_ = nullptr;
std::int64_t PeopleEndToEnd::expected_frames_ = 0;

TEST_F(PeopleEndToEnd, ExitsCleanlyAndAccountsForEveryFrame) {
  ASSERT_EQ(two_->process.exit_code, 0) << two_->process.err;
  const std::string n = std::to_string(expected_frames_);
  EXPECT_NE(two_->process.out.find(n + " in, " + n + " processed, 0 dropped, 0 failed"), std::string::npos)
      << two_->process.out;
  for (const char* stage : {"detect (hog)", "reorder", "annotate", "encode", "metadata", "end-to-end"}) {
    EXPECT_NE(two_->process.out.find(stage), std::string::npos) << stage << " missing from\n" << two_->process.out;
  }
}

TEST_F(PeopleEndToEnd, VideoReadsBackWithEveryFrameAtInputSize) {
  ASSERT_EQ(two_->process.exit_code, 0) << two_->process.err;
  EXPECT_EQ(count_frames(two_->video), expected_frames_);
  cv::VideoCapture capture(two_->video);
  EXPECT_EQ(capture.get(cv::CAP_PROP_FRAME_WIDTH), 768);
  EXPECT_EQ(capture.get(cv::CAP_PROP_FRAME_HEIGHT), 576);
}

TEST_F(PeopleEndToEnd, MetadataHasOneLinePerFrameInOrderWithPeople) {
  ASSERT_EQ(two_->process.exit_code, 0) << two_->process.err;
  const auto lines = read_jsonl(two_->metadata);
  ASSERT_EQ(static_cast<std::int64_t>(lines.size()), expected_frames_);
  double last_pts = -1;
  std::int64_t frames_with_people = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    ASSERT_EQ(line.at("seq").get<std::int64_t>(), static_cast<std::int64_t>(i));
    EXPECT_EQ(line.at("stream").get<int>(), 0);
    EXPECT_EQ(line.at("status").get<std::string>(), "ok");
    const double pts = line.at("pts").get<double>();
    EXPECT_GT(pts, last_pts);
    last_pts = pts;
    for (const auto& detection : line.at("detections")) {
      EXPECT_EQ(detection.at("label").get<std::string>(), "person");
      const auto& box = detection.at("box");
      EXPECT_GE(box.at("x").get<int>() + box.at("w").get<int>(), 0);
      EXPECT_LE(box.at("y").get<int>(), 576);
      EXPECT_GT(box.at("w").get<int>(), 0);
    }
    frames_with_people += !line.at("detections").empty();
  }
  // People walk through vtest.avi from start to end.
  EXPECT_GT(frames_with_people, expected_frames_ * 3 / 4);
}

TEST_F(PeopleEndToEnd, DetectionsAreIdenticalWithOneTwoAndFourWorkers) {
  ASSERT_EQ(two_->process.exit_code, 0) << two_->process.err;
  const auto two = read_jsonl(two_->metadata);
  for (int workers : {1, 4}) {
    const PeopleRun run = run_people(*input_, *dir_, workers);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    const auto lines = read_jsonl(run.metadata);
    ASSERT_EQ(lines.size(), two.size()) << workers << " workers";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      ASSERT_EQ(lines[i].at("detections"), two[i].at("detections")) << "frame " << i << ", " << workers << " workers";
    }
  }
}

TEST(FacesEndToEnd, FaceCascadeFindsAFaceInMostFramesOfMegamind) {
  const std::string dir = testing::make_temp_dir("faces");
  std::string input = testing::sample_path("Megamind.avi");
  std::int64_t frames = 270;
  if (testing::short_run()) {
    input = dir + "/megamind-30.avi";
    testing::cut_clip(testing::sample_path("Megamind.avi"), input, 30);
    frames = 30;
  }
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
