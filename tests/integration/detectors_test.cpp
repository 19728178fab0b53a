#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "lookout/detect/detector.h"
#include "support/media.h"

namespace lookout {
namespace {

// Every `step`-th frame of a sample video, up to `count` frames, read with OpenCV directly so the
// detectors are tested independently of lookout's capture.
std::vector<cv::Mat> sample_frames(const std::string& name, int count, int step = 1) {
  cv::VideoCapture capture(testing::sample_path(name));
  std::vector<cv::Mat> frames;
  if (!capture.isOpened()) {
    ADD_FAILURE() << "cannot open " << name;
    return frames;
  }
  cv::Mat frame;
  for (int index = 0; static_cast<int>(frames.size()) < count && capture.read(frame); ++index) {
    if (index % step == 0) frames.push_back(frame.clone());
  }
  EXPECT_EQ(static_cast<int>(frames.size()), count) << name << " ended early";
  return frames;
}

DetectorFactory factory(const std::string& type,
                        const std::vector<std::pair<std::string, std::string>>& values = {}) {
  DetectorSpec spec{type, Options("test")};
  for (const auto& [key, value] : values) spec.options.set(key, value, "test");
  return make_detector_factory(std::move(spec));
}

bool inside(const cv::Rect& box, const cv::Mat& image) {
  return box.width > 0 && box.height > 0 && (box & cv::Rect(0, 0, image.cols, image.rows)) == box;
}

// Frames in which `detector` found at least one object; checks every box on the way.
int frames_with_detections(Detector& detector, const std::vector<cv::Mat>& frames,
                           const std::string& label) {
  int hits = 0;
  for (const auto& frame : frames) {
    const auto detections = detector.detect(frame);
    for (const auto& detection : detections) {
      EXPECT_TRUE(inside(detection.box, frame)) << detection.box;
      EXPECT_EQ(detection.label, label);
    }
    if (!detections.empty()) ++hits;
  }
  return hits;
}

class Detectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { configure_opencv_threads(); }
  // Sanitizer builds run HOG an order of magnitude slower, so short runs look at fewer frames.
  static int frame_count(int full, int short_run) {
    return testing::short_run() ? short_run : full;
  }
};

TEST_F(Detectors, HogFindsPeopleInMostFramesOfVtest) {
  const auto frames = sample_frames("vtest.avi", frame_count(20, 5));
  auto detector = factory("hog")();

  const int hits = frames_with_detections(*detector, frames, "person");

  EXPECT_GE(hits * 10, static_cast<int>(frames.size()) * 8)
      << hits << " of " << frames.size() << " frames had a person";
}

TEST_F(Detectors, HogIsDeterministicAcrossCallsAndInstances) {
  const auto frames = sample_frames("vtest.avi", frame_count(3, 1), 10);
  auto first = factory("hog")();
  auto second = factory("hog")();
  for (const auto& frame : frames) {
    const auto once = first->detect(frame);
    ASSERT_FALSE(once.empty());
    EXPECT_EQ(first->detect(frame), once);
    EXPECT_EQ(second->detect(frame), once);
    for (std::size_t i = 1; i < once.size(); ++i) {
      EXPECT_LE(once[i - 1].box.y, once[i].box.y) << "detections are not sorted";
    }
  }
}

// HOG's region search scores the same windows as the whole-frame search, so one region covering
// the frame gives exactly its detections (boxes and scores).
TEST_F(Detectors, HogRegionSearchOfTheWholeFrameIsTheWholeFrameSearch) {
  const auto frames = sample_frames("vtest.avi", frame_count(3, 1), 10);
  auto detector = factory("hog")();
  for (const auto& frame : frames) {
    const auto whole = detector->detect(frame);
    ASSERT_FALSE(whole.empty());
    const auto search = detector->detect_in(frame, {cv::Rect(0, 0, frame.cols, frame.rows)});
    ASSERT_TRUE(search.has_value()) << "hog searches regions itself";
    EXPECT_EQ(search->detections, whole);
    EXPECT_EQ(search->pixels, static_cast<std::int64_t>(frame.total()));
  }
}

// Regions around each person the whole-frame search found, a little larger than the box: every
// window of that person's group has its centre inside, so each box comes back exactly, while far
// fewer pixels are searched. (A region is also merged with any it overlaps, as the chain's are.)
TEST_F(Detectors, HogRegionSearchAroundPeopleFindsTheirWholeFrameBoxesExactly) {
  const auto frames = sample_frames("vtest.avi", frame_count(3, 1), 10);
  auto detector = factory("hog")();
  for (const auto& frame : frames) {
    const auto whole = detector->detect(frame);
    ASSERT_FALSE(whole.empty());
    std::vector<cv::Rect> regions;
    for (const auto& person : whole) {
      const int dx = person.box.width / 2, dy = person.box.height / 2;
      regions.push_back(cv::Rect(person.box.x - dx, person.box.y - dy, person.box.width + 2 * dx,
                                 person.box.height + 2 * dy) &
                        cv::Rect(0, 0, frame.cols, frame.rows));
    }
    merge_overlapping(regions);
    const auto search = detector->detect_in(frame, regions);
    ASSERT_TRUE(search.has_value());
    for (const auto& person : whole) {
      EXPECT_NE(std::find(search->detections.begin(), search->detections.end(), person),
                search->detections.end())
          << person.box << " found on the whole frame is missing";
    }
    EXPECT_LT(search->pixels, static_cast<std::int64_t>(frame.total()));
  }
}

// The people in vtest are under 256 pixels tall, so at half size they are smaller than HOG's
// 64x128 window and none would be found. Doubling the frames first makes half size the original
// size, so the wrapper must find the same people and report them in the doubled frame's pixels.
std::vector<cv::Mat> doubled(const std::vector<cv::Mat>& frames) {
  std::vector<cv::Mat> result;
  for (const auto& frame : frames) {
    cv::Mat large;
    cv::resize(frame, large, frame.size() * 2, 0, 0, cv::INTER_LINEAR);
    result.push_back(large);
  }
  return result;
}

TEST_F(Detectors, DownscaledHogStillFindsPeopleInsideTheFrame) {
  const auto frames = doubled(sample_frames("vtest.avi", frame_count(10, 3)));
  auto detector = factory("hog", {{"downscale", "0.5"}})();

  const int hits = frames_with_detections(*detector, frames, "person");

  EXPECT_GE(hits * 10, static_cast<int>(frames.size()) * 8)
      << hits << " of " << frames.size() << " frames had a person";
}

TEST_F(Detectors, DownscaledHogBoxesAreInInputPixels) {
  const auto frames = sample_frames("vtest.avi", 1);
  const auto large = doubled(frames);
  auto full = factory("hog")();
  auto half = factory("hog", {{"downscale", "0.5"}})();

  const auto full_boxes = full->detect(frames[0]);
  const auto half_boxes = half->detect(large[0]);

  ASSERT_FALSE(full_boxes.empty());
  ASSERT_FALSE(half_boxes.empty());
  // Every person found at half size of the doubled frame is, halved, one found in the original.
  for (const auto& detection : half_boxes) {
    EXPECT_TRUE(inside(detection.box, large[0])) << detection.box;
    const cv::Point centre(detection.box.x + detection.box.width / 2,
                           detection.box.y + detection.box.height / 2);
    bool matched = false;
    for (const auto& original : full_boxes) {
      matched = matched || original.box.contains(centre / 2);
    }
    EXPECT_TRUE(matched) << detection.box << " has no counterpart in the original frame";
  }
}

// With downscale the region search still goes to HOG's own (on the reduced frame), so one region
// covering the frame gives exactly what the downscaled whole-frame search gives.
TEST_F(Detectors, DownscaledHogRegionSearchOfTheWholeFrameIsItsWholeFrameSearch) {
  const auto frames = doubled(sample_frames("vtest.avi", frame_count(3, 1), 10));
  auto detector = factory("hog", {{"downscale", "0.5"}})();
  for (const auto& frame : frames) {
    const auto whole = detector->detect(frame);
    ASSERT_FALSE(whole.empty());
    const auto search = detector->detect_in(frame, {cv::Rect(0, 0, frame.cols, frame.rows)});
    ASSERT_TRUE(search.has_value()) << "the wrapper forwards to hog's region search";
    EXPECT_EQ(search->detections, whole);
    EXPECT_EQ(search->pixels, static_cast<std::int64_t>(frame.total()));
  }
}

TEST_F(Detectors, HalfSizeHogBoxesAreAtLeastTheWindowInInputPixels) {
  // The 64x128 window at half size covers 128x256 input pixels; a smaller box was not mapped back.
  const auto frames = sample_frames("vtest.avi", 1);
  auto half = factory("hog", {{"downscale", "0.5"}})();
  for (const auto& detection : half->detect(frames[0])) {
    EXPECT_GE(detection.box.height, 255) << detection.box;
  }
}

TEST_F(Detectors, FrontalFaceCascadeFindsTheFaceInMostFramesOfMegamind) {
  const auto frames = sample_frames("Megamind.avi", frame_count(40, 8), 5);
  auto detector = factory("cascade")();

  const int hits = frames_with_detections(*detector, frames, "face");

  EXPECT_GE(hits * 10, static_cast<int>(frames.size()) * 6)
      << hits << " of " << frames.size() << " frames had a face";
}

TEST_F(Detectors, LbpCascadeLoadsAndFindsFaces) {
  const auto frames = sample_frames("Megamind.avi", frame_count(20, 5), 10);
  auto detector =
      factory("cascade", {{"cascade", "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml"},
                          {"label", "lbp-face"}})();

  const int hits = frames_with_detections(*detector, frames, "lbp-face");

  EXPECT_GE(hits * 2, static_cast<int>(frames.size()))
      << hits << " of " << frames.size() << " frames had a face";
}

TEST_F(Detectors, CascadeIsDeterministicAcrossInstances) {
  const auto frames = sample_frames("Megamind.avi", 3, 50);
  auto first = factory("cascade")();
  auto second = factory("cascade")();
  for (const auto& frame : frames) {
    const auto once = first->detect(frame);
    EXPECT_EQ(first->detect(frame), once);
    EXPECT_EQ(second->detect(frame), once);
  }
}

}  // namespace
}  // namespace lookout
