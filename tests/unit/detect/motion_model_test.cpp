#include "lookout/detect/motion_model.h"

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "lookout/core/error.h"
#include "lookout/detect/detector.h"

namespace lookout {
namespace {

// As in the pipeline: OpenCV's own thread pool off (its TBB threads are invisible to TSan).
class MotionEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { configure_opencv_threads(); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new MotionEnvironment);

cv::Mat scene(int square_x) {
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(90, 100, 110));
  cv::rectangle(image, cv::Rect(0, 200, 320, 40), cv::Scalar(40, 60, 40), cv::FILLED);
  if (square_x >= 0) cv::rectangle(image, cv::Rect(square_x, 80, 40, 60), cv::Scalar(230, 230, 230), cv::FILLED);
  return image;
}

TEST(MotionModel, StaticSceneHasNoMotionAfterWarmup) {
  for (const auto method : {MotionParams::Method::kMog2, MotionParams::Method::kKnn}) {
    MotionParams params;
    params.method = method;
    MotionModel model(params);
    for (int i = 0; i < 40; ++i) {
      EXPECT_TRUE(model.apply(scene(-1)).empty()) << "frame " << i;
    }
  }
}

TEST(MotionModel, MovingSquareIsOneRegionAroundIt) {
  MotionParams params;
  params.dilate = 1;
  MotionModel model(params);
  for (int i = 0; i < 30; ++i) model.apply(scene(-1));
  int found = 0;
  for (int i = 0; i < 20; ++i) {
    const int x = 20 + i * 10;
    const auto regions = model.apply(scene(x));
    if (regions.empty()) continue;
    ++found;
    ASSERT_EQ(regions.size(), 1u) << "frame " << i;
    const cv::Rect truth(x, 80, 40, 60);
    const double overlap = (regions[0].box & truth).area();
    EXPECT_GT(overlap / truth.area(), 0.8) << "frame " << i;
    EXPECT_EQ(regions[0].label, "motion");
  }
  EXPECT_GE(found, 18);
}

TEST(MotionModel, IgnorePolygonHidesMotionInside) {
  Options options("stage 1 (motion)");
  options.set("ignore", "0,0 320,0 320,160 0,160", "test");
  MotionModel model(parse_motion_params(options));
  for (int i = 0; i < 30; ++i) model.apply(scene(-1));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(model.apply(scene(20 + i * 10)).empty()) << "frame " << i;
}

TEST(MotionModel, SmallRegionsBelowMinAreaAreLeftOut) {
  Options options("stage 1 (motion)");
  options.set("min_area", "5000", "test");  // the square is 40x60 = 2400
  MotionModel model(parse_motion_params(options));
  for (int i = 0; i < 30; ++i) model.apply(scene(-1));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(model.apply(scene(20 + i * 10)).empty());
}

TEST(MotionOptions, BadValuesAreConfigErrorsNamingTheOption) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"method", "optical-flow"}, {"blur", "4"},         {"downscale", "0"},
      {"ignore", "1,2 3,4"},      {"ignore", "1;2 3,4"}, {"learning_rate", "-0.5"}};
  for (const auto& [key, value] : bad) {
    Options options("stage 1 (motion)");
    options.set(key, value, "p.yaml:3:5");
    try {
      parse_motion_params(options);
      ADD_FAILURE() << key << "=" << value << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("p.yaml:3:5"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace lookout
