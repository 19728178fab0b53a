#include <memory>
#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

// A private header of lookout_detect: the wrapper is tested with a fake it cannot get via the
// factory.
#include "detect/downscaled_detector.h"

namespace lookout {
namespace {

// Returns fixed boxes, in the pixels of whatever image it is given, and records that image's size.
class FakeDetector : public Detector {
 public:
  FakeDetector(std::vector<cv::Rect> boxes, std::shared_ptr<std::vector<cv::Size>> seen)
      : boxes_(std::move(boxes)), seen_(std::move(seen)) {}

  std::vector<Detection> detect(const cv::Mat& image) override {
    seen_->push_back(image.size());
    std::vector<Detection> detections;
    for (const auto& box : boxes_) detections.push_back(Detection{box, "thing", 0.75, {}, {}});
    return detections;
  }

 private:
  std::vector<cv::Rect> boxes_;
  std::shared_ptr<std::vector<cv::Size>> seen_;
};

struct Wrapped {
  std::unique_ptr<Detector> detector;
  std::shared_ptr<std::vector<cv::Size>> seen = std::make_shared<std::vector<cv::Size>>();
};

Wrapped wrap(std::vector<cv::Rect> boxes, double factor) {
  Wrapped wrapped;
  wrapped.detector = std::make_unique<DownscaledDetector>(
      std::make_unique<FakeDetector>(std::move(boxes), wrapped.seen), factor);
  return wrapped;
}

TEST(DownscaledDetector, PassesAHalfSizeImageAndMapsBoxesBackExactly) {
  Wrapped wrapped = wrap({cv::Rect(10, 20, 30, 40)}, 0.5);
  const cv::Mat image(480, 640, CV_8UC3, cv::Scalar(1, 2, 3));

  const auto detections = wrapped.detector->detect(image);

  ASSERT_EQ(wrapped.seen->size(), 1u);
  EXPECT_EQ(wrapped.seen->front(), cv::Size(320, 240));
  ASSERT_EQ(detections.size(), 1u);
  EXPECT_EQ(detections[0].box, cv::Rect(20, 40, 60, 80));
  EXPECT_EQ(detections[0].label, "thing");
  EXPECT_EQ(detections[0].score, 0.75);
}

TEST(DownscaledDetector, ClipsBoxesToTheInputImageAndDropsBoxesOutsideIt) {
  Wrapped wrapped =
      wrap({cv::Rect(300, 200, 40, 60), cv::Rect(-5, -5, 10, 10), cv::Rect(400, 10, 20, 20)}, 0.5);
  const cv::Mat image(480, 640, CV_8UC3, cv::Scalar::all(0));

  const auto detections = wrapped.detector->detect(image);

  ASSERT_EQ(detections.size(), 2u);
  EXPECT_EQ(detections[0].box, cv::Rect(600, 400, 40, 80));
  EXPECT_EQ(detections[1].box, cv::Rect(0, 0, 10, 10));
}

TEST(DownscaledDetector, MapsByTheActualRatioWhenTheSizeDoesNotDivideEvenly) {
  // 0.5 of 101x51 rounds to 51x26 (lround rounds halves away from zero), so the ratios back are
  // 101/51 and 51/26, not 2: corner (10, 5) maps to (20, 10) and corner (30, 15) to (59, 29).
  Wrapped wrapped = wrap({cv::Rect(10, 5, 20, 10), cv::Rect(0, 0, 51, 26)}, 0.5);
  const cv::Mat image(51, 101, CV_8UC3, cv::Scalar::all(0));

  const auto detections = wrapped.detector->detect(image);

  ASSERT_EQ(wrapped.seen->size(), 1u);
  EXPECT_EQ(wrapped.seen->front(), cv::Size(51, 26));
  ASSERT_EQ(detections.size(), 2u);
  EXPECT_EQ(detections[0].box, cv::Rect(20, 10, 39, 19));
  EXPECT_EQ(detections[1].box, cv::Rect(0, 0, 101, 51));
}

TEST(DownscaledDetector, FactorOneKeepsTheImageSize) {
  Wrapped wrapped = wrap({cv::Rect(3, 4, 5, 6)}, 1.0);
  const cv::Mat image(90, 160, CV_8UC3, cv::Scalar::all(0));

  const auto detections = wrapped.detector->detect(image);

  EXPECT_EQ(wrapped.seen->front(), cv::Size(160, 90));
  ASSERT_EQ(detections.size(), 1u);
  EXPECT_EQ(detections[0].box, cv::Rect(3, 4, 5, 6));
}

TEST(DownscaledDetector, TinyFactorStillPassesAtLeastOnePixel) {
  Wrapped wrapped = wrap({}, 0.001);
  const cv::Mat image(90, 160, CV_8UC3, cv::Scalar::all(0));

  wrapped.detector->detect(image);

  EXPECT_EQ(wrapped.seen->front(), cv::Size(1, 1));
}

// Searches regions itself: records the image size and the regions it was given, and returns one
// box per region (the region itself) with 10 pixels searched for each.
class RegionFake : public Detector {
 public:
  std::vector<Detection> detect(const cv::Mat& /*image*/) override { return {}; }
  std::optional<RegionSearch> detect_in(const cv::Mat& image,
                                        const std::vector<cv::Rect>& regions) override {
    image_size = image.size();
    seen_regions = regions;
    RegionSearch search;
    for (const auto& region : regions) {
      search.detections.push_back(Detection{region, "thing", 0.5, {}, {}});
      search.pixels += 10;
    }
    return search;
  }
  cv::Size image_size;
  std::vector<cv::Rect> seen_regions;
};

TEST(DownscaledDetector, GivesTheWrappedRegionSearchTheRegionsOnTheReducedImage) {
  auto fake = std::make_unique<RegionFake>();
  RegionFake* inner = fake.get();
  DownscaledDetector detector(std::move(fake), 0.5);
  const cv::Mat image(480, 640, CV_8UC3, cv::Scalar::all(0));

  // (11, 21)-(41, 61) covers reduced pixels 5..20 and 10..30; the other two are side by side at
  // full size (one ends where the other starts), so mapped outwards they overlap and are merged.
  const auto search = detector.detect_in(
      image, {cv::Rect(11, 21, 30, 40), cv::Rect(100, 100, 1, 50), cv::Rect(101, 100, 20, 50)});

  ASSERT_TRUE(search.has_value());
  EXPECT_EQ(inner->image_size, cv::Size(320, 240));
  ASSERT_EQ(inner->seen_regions.size(), 2u);
  EXPECT_EQ(inner->seen_regions[0], cv::Rect(5, 10, 16, 21));
  EXPECT_EQ(inner->seen_regions[1], cv::Rect(50, 50, 11, 25));
  // What it found comes back in the input's pixels, and 10 reduced pixels a region are 40 here.
  ASSERT_EQ(search->detections.size(), 2u);
  EXPECT_EQ(search->detections[0].box, cv::Rect(10, 20, 32, 42));
  EXPECT_EQ(search->detections[1].box, cv::Rect(100, 100, 22, 50));
  EXPECT_EQ(search->pixels, 80);
}

TEST(DownscaledDetector, HasNoRegionSearchWhenTheWrappedDetectorHasNone) {
  Wrapped wrapped = wrap({cv::Rect(1, 2, 3, 4)}, 0.5);
  const cv::Mat image(480, 640, CV_8UC3, cv::Scalar::all(0));

  EXPECT_FALSE(wrapped.detector->detect_in(image, {cv::Rect(0, 0, 100, 100)}).has_value());
  EXPECT_FALSE(wrapped.detector->detect_in(image, {cv::Rect(0, 0, 100, 100)}).has_value())
      << "nor on a later frame";
  // Its plain search still works as before.
  ASSERT_EQ(wrapped.detector->detect(image).size(), 1u);
}

TEST(DownscaledDetector, RejectsFactorsOutsideZeroToOne) {
  for (const double factor : {0.0, -0.5, 1.5}) {
    EXPECT_THROW(wrap({}, factor), std::invalid_argument) << factor;
  }
  EXPECT_THROW(DownscaledDetector(nullptr, 0.5), std::invalid_argument);
}

}  // namespace
}  // namespace lookout
