// The people pipeline end to end on vtest.avi through the `lookout` command: the produced files are
// read back with OpenCV (independently of lookout's own capture code) and their frames counted.
// One process runs every test here, so the expensive 2-worker run is shared (ctest runs this
// executable as a single test).


#include <gtest/gtest.h>

#include <algorithm>
#include <opencv2/videoio.hpp>

#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

using testing::count_frames;
using testing::read_jsonl;
using testing::run_lookout;

struct PeopleRun {
  testing::ProcessResult process;
  std::string video;
  std::string metadata;
};

PeopleRun run_people(const std::string& input, const std::string& dir, int workers, std::int64_t frames = -1) {
  PeopleRun run;
  run.video = dir + "/people-" + std::to_string(workers) + ".mp4";
  run.metadata = dir + "/people-" + std::to_string(workers) + ".jsonl";
  std::vector<std::string> args{"run", std::string(LOOKOUT_SOURCE_DIR) + "/pipelines/people.yaml", "--input", input,
                                "--workers", std::to_string(workers), "--output", run.video, "--metadata",
                                run.metadata};
  if (frames >= 0) args.insert(args.end(), {"--frames", std::to_string(frames)});
  run.process = run_lookout(args);
  return run;
}

// The people pipeline with 2 workers on the first 300 frames of vtest.avi (people enter, walk and
// cross; the whole clip is tools/demo's job), or on its first 40 frames in short runs; run once and
// shared by the tests below, since hog on every frame takes a while.
class PeopleEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("people"));
    expected_frames_ = testing::short_run() ? 40 : 300;
    input_ = new std::string(*dir_ + "/vtest-" + std::to_string(expected_frames_) + ".avi");
    testing::cut_clip(testing::sample_path("vtest.avi"), *input_, static_cast<int>(expected_frames_));
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

// On the first 100 frames (hundreds of people boxes, and frames where people enter and cross),
// which keeps the slow single-worker run short; 20 under the sanitizers, where hog's allocations
// all go through the sanitizer's interceptors and each frame takes about four times as long.
TEST_F(PeopleEndToEnd, DetectionsAreIdenticalWithOneTwoAndFourWorkers) {
  ASSERT_EQ(two_->process.exit_code, 0) << two_->process.err;
  const auto two = read_jsonl(two_->metadata);
  const std::int64_t frames = std::min<std::int64_t>(testing::short_run() ? 20 : 100, expected_frames_);
  for (int workers : {1, 4}) {
    const PeopleRun run = run_people(*input_, *dir_, workers, frames);
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    const auto lines = read_jsonl(run.metadata);
    ASSERT_EQ(static_cast<std::int64_t>(lines.size()), frames) << workers << " workers";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      ASSERT_EQ(lines[i].at("detections"), two[i].at("detections")) << "frame " << i << ", " << workers << " workers";
    }
  }
}

}  // namespace
}  // namespace lookout
