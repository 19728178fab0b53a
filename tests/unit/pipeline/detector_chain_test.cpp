#include "lookout/pipeline/detector_chain.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {

// Finds one box, 10x10 at (5,5) of whatever image it is given, and remembers the sizes it saw.
class SpyDetector : public Detector {
 public:
  explicit SpyDetector(std::vector<cv::Size>* seen) : seen_(seen) {}
  std::vector<Detection> detect(const cv::Mat& image) override {
    if (seen_ != nullptr) seen_->push_back(image.size());
    return {Detection{cv::Rect(5, 5, 10, 10), "thing", 1.0, {}, {}}};
  }

 private:
  std::vector<cv::Size>* seen_;
};

ChainStage spy_stage(const std::string& name, std::vector<cv::Size>* seen) {
  ChainStage stage;
  stage.name = name;
  stage.factory = [seen] { return std::make_unique<SpyDetector>(seen); };
  return stage;
}

Frame frame_with(std::int64_t seq, std::vector<Detection> earlier = {}) {
  Frame frame;
  frame.seq = seq;
  frame.image = cv::Mat(200, 300, CV_8UC3, cv::Scalar(0, 0, 0));
  frame.detections = std::move(earlier);
  return frame;
}

Detection motion_box(cv::Rect box) {
  Detection detection{box, "motion", 1.0, {}, {}};
  detection.stage = "motion";
  return detection;
}

TEST(SearchRegions, PadClipAndMergeOverlappingBoxes) {
  const auto regions = search_regions_from({cv::Rect(10, 10, 20, 20), cv::Rect(35, 10, 20, 20),
                                            cv::Rect(200, 150, 40, 40)},
                                           cv::Size(220, 170), 0.25, cv::Size(0, 0));
  // The first two grow by 5 px a side and then touch, so they merge; the third is clipped.
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0], cv::Rect(5, 5, 55, 30));
  EXPECT_EQ(regions[1], cv::Rect(190, 140, 30, 30));
}

TEST(SearchRegions, SmallBoxesGrowToTheMinimumSizeAroundTheirCentre) {
  const auto regions = search_regions_from({cv::Rect(100, 100, 10, 10)}, cv::Size(300, 300), 0.0,
                                           cv::Size(64, 128));
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0], cv::Rect(73, 41, 64, 128));
}

TEST(RemoveDuplicates, KeepsTheHigherScoreOfOverlappingBoxesWithTheSameLabel) {
  std::vector<Detection> found{Detection{cv::Rect(0, 0, 10, 10), "a", 0.5, {}, {}},
                               Detection{cv::Rect(1, 0, 10, 10), "a", 0.9, {}, {}},
                               Detection{cv::Rect(1, 0, 10, 10), "b", 0.1, {}, {}},
                               Detection{cv::Rect(50, 50, 10, 10), "a", 0.2, {}, {}}};
  const auto kept = remove_duplicates(found);
  ASSERT_EQ(kept.size(), 3u);
  int a_near_origin = 0;
  for (const auto& detection : kept) {
    if (detection.label == "a" && detection.box.x < 50) {
      ++a_near_origin;
      EXPECT_EQ(detection.score, 0.9);
    }
  }
  EXPECT_EQ(a_near_origin, 1);
  EXPECT_EQ(kept[2].box, cv::Rect(50, 50, 10, 10)) << "sorted by position";
}

TEST(DetectorChain, EveryNthRunsOnlyOnMultiplesAndCounts) {
  auto counters = std::make_shared<ChainCounters>();
  ChainStage stage = spy_stage("spy", nullptr);
  stage.every = 3;
  auto chain = detector_chain_factory({stage}, counters)();
  int with_detections = 0;
  for (std::int64_t seq = 0; seq < 9; ++seq) {
    Frame frame = frame_with(seq);
    chain->process(frame);
    with_detections += frame.detections.empty() ? 0 : 1;
    if (seq % 3 == 0) {
      ASSERT_EQ(frame.detections.size(), 1u);
      EXPECT_EQ(frame.detections[0].stage, "spy");
    }
  }
  EXPECT_EQ(with_detections, 3);
  EXPECT_EQ((*counters)[0]->frames_run.load(), 3);
  EXPECT_EQ((*counters)[0]->frames_skipped.load(), 6);
  EXPECT_EQ((*counters)[0]->pixels.load(), 3 * 300 * 200);
}

TEST(DetectorChain, WhenRunsOnlyOnFramesWhereTheEarlierStageFoundSomething) {
  ChainStage stage = spy_stage("spy", nullptr);
  stage.when = "motion";
  auto chain = detector_chain_factory({stage})();
  Frame still = frame_with(0);
  chain->process(still);
  EXPECT_TRUE(still.detections.empty());
  Frame moving = frame_with(1, {motion_box(cv::Rect(100, 100, 20, 20))});
  chain->process(moving);
  ASSERT_EQ(moving.detections.size(), 2u);
  EXPECT_EQ(moving.detections[1].box, cv::Rect(5, 5, 10, 10)) << "the whole frame was searched";
}

TEST(DetectorChain, RegionsSearchOnlyInsideEarlierBoxesAndMapBack) {
  std::vector<cv::Size> seen;
  auto counters = std::make_shared<ChainCounters>();
  ChainStage stage = spy_stage("spy", &seen);
  stage.regions = "motion";
  stage.region_padding = 0.0;
  auto chain = detector_chain_factory({stage}, counters)();
  Frame frame = frame_with(0, {motion_box(cv::Rect(100, 50, 40, 30)), motion_box(cv::Rect(10, 150, 20, 20))});
  chain->process(frame);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], cv::Size(40, 30));
  EXPECT_EQ(seen[1], cv::Size(20, 20));
  ASSERT_EQ(frame.detections.size(), 4u);
  EXPECT_EQ(frame.detections[2].box, cv::Rect(105, 55, 10, 10));
  EXPECT_EQ(frame.detections[3].box, cv::Rect(15, 155, 10, 10));
  EXPECT_EQ((*counters)[0]->pixels.load(), 40 * 30 + 20 * 20);

  Frame empty = frame_with(1);
  chain->process(empty);
  EXPECT_TRUE(empty.detections.empty());
  EXPECT_EQ((*counters)[0]->frames_skipped.load(), 1) << "no regions: nothing to search";
}

// A detector that searches regions itself (as HOG does) is given the whole frame and the
// regions, not views of them; what it returns is kept as it is, and its pixel count is counted.
class RegionSearchingDetector : public Detector {
 public:
  RegionSearchingDetector(cv::Size* frame, std::vector<cv::Rect>* regions)
      : frame_(frame), regions_(regions) {}
  std::vector<Detection> detect(const cv::Mat& /*image*/) override {
    ADD_FAILURE() << "detect() called on a view";
    return {};
  }
  std::optional<RegionSearch> detect_in(const cv::Mat& image,
                                        const std::vector<cv::Rect>& regions) override {
    *frame_ = image.size();
    *regions_ = regions;
    RegionSearch search;
    search.detections = {Detection{cv::Rect(101, 51, 10, 10), "thing", 1.0, {}, {}},
                         Detection{cv::Rect(102, 51, 10, 10), "thing", 0.5, {}, {}}};
    search.pixels = 1234;
    return search;
  }

 private:
  cv::Size* frame_;
  std::vector<cv::Rect>* regions_;
};

TEST(DetectorChain, ADetectorThatSearchesRegionsItselfGetsTheFrameAndTheRegions) {
  cv::Size frame_size;
  std::vector<cv::Rect> regions;
  auto counters = std::make_shared<ChainCounters>();
  ChainStage stage;
  stage.name = "own";
  stage.regions = "motion";
  stage.region_padding = 0.0;
  stage.factory = [&] { return std::make_unique<RegionSearchingDetector>(&frame_size, &regions); };
  auto chain = detector_chain_factory({stage}, counters)();
  Frame frame = frame_with(0, {motion_box(cv::Rect(100, 50, 40, 30)), motion_box(cv::Rect(10, 150, 20, 20))});
  chain->process(frame);
  EXPECT_EQ(frame_size, cv::Size(300, 200));
  EXPECT_EQ(regions, (std::vector<cv::Rect>{cv::Rect(100, 50, 40, 30), cv::Rect(10, 150, 20, 20)}));
  ASSERT_EQ(frame.detections.size(), 4u) << "its boxes are its own: no duplicate removal";
  EXPECT_EQ(frame.detections[2].box, cv::Rect(101, 51, 10, 10));
  EXPECT_EQ(frame.detections[2].stage, "own");
  EXPECT_EQ((*counters)[0]->pixels.load(), 1234);
}

TEST(ChainStageOptions, ParsesAndRejectsWithTheNearestKey) {
  Options options("stage 2 (hog)");
  options.set("name", "people", "p.yaml:5:5");
  options.set("regions", "motion", "p.yaml:6:5");
  options.set("region_min_size", "64x128", "p.yaml:7:5");
  const ChainStage stage = parse_chain_stage(options, "hog");
  EXPECT_EQ(stage.name, "people");
  EXPECT_EQ(stage.regions, "motion");
  EXPECT_EQ(stage.region_min_size, cv::Size(64, 128));

  Options both("stage 2 (hog)");
  both.set("regions", "motion", "p.yaml:6:5");
  both.set("when", "motion", "p.yaml:7:5");
  EXPECT_THROW(parse_chain_stage(both, "hog"), ConfigError);
}

}  // namespace
}  // namespace lookout
