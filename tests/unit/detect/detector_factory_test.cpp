#include <algorithm>
#include <cctype>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "support/media.h"

namespace lookout {
namespace {

const char* const kLbpCascade = "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml";

DetectorSpec spec(const std::string& type,
                  const std::vector<std::pair<std::string, std::string>>& values = {}) {
  DetectorSpec result{type, Options("stage 'detect'")};
  for (const auto& [key, value] : values) result.options.set(key, value, "test.yaml:3:5");
  return result;
}

// The ConfigError message make_detector_factory throws, or "" if it did not throw one.
std::string config_error(DetectorSpec detector_spec) {
  try {
    make_detector_factory(std::move(detector_spec));
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DetectorFactory, ListsEveryDetectorType) {
  const auto types = detector_types();
  for (const std::string type : {"hog", "cascade", "blazeface", "yolo", "ssd"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  }
}

TEST(DetectorFactory, UnknownTypeSuggestsTheNearestAndListsTheKnownOnes) {
  const std::string message = config_error(spec("hgo"));
  EXPECT_TRUE(contains(message, "unknown detector 'hgo'")) << message;
  EXPECT_TRUE(contains(message, "did you mean 'hog'?")) << message;
  EXPECT_TRUE(contains(message, "(known: hog, cascade, blazeface, yolo, ssd")) << message;

  const std::string cascade = config_error(spec("cascades"));
  EXPECT_TRUE(contains(cascade, "did you mean 'cascade'?")) << cascade;
}

TEST(DetectorFactory, UnknownTypeFarFromAnyStillListsTheKnownOnes) {
  const std::string message = config_error(spec("tracker"));
  EXPECT_TRUE(contains(message, "unknown detector 'tracker'")) << message;
  EXPECT_FALSE(contains(message, "did you mean")) << message;
  EXPECT_TRUE(contains(message, "known: hog, cascade")) << message;
}

TEST(DetectorFactory, UnknownOptionSuggestsTheNearestKey) {
  const std::string hog = config_error(spec("hog", {{"win_strid", "16"}}));
  EXPECT_TRUE(contains(hog, "unknown option 'win_strid'")) << hog;
  EXPECT_TRUE(contains(hog, "did you mean 'win_stride'?")) << hog;
  EXPECT_TRUE(contains(hog, "test.yaml:3:5")) << hog;

  const std::string cascade = config_error(spec("cascade", {{"min_neighbours", "2"}}));
  EXPECT_TRUE(contains(cascade, "did you mean 'min_neighbors'?")) << cascade;
}

TEST(DetectorFactory, OptionOfTheOtherDetectorIsUnknown) {
  const std::string message = config_error(spec("hog", {{"min_neighbors", "3"}}));
  EXPECT_TRUE(contains(message, "unknown option 'min_neighbors'")) << message;
}

struct BadValue {
  std::string type;
  std::string key;
  std::string value;
};

class DetectorFactoryBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(DetectorFactoryBadValue, IsAConfigErrorNamingTheKeyAndTheValue) {
  const BadValue& bad = GetParam();
  const std::string message = config_error(spec(bad.type, {{bad.key, bad.value}}));
  ASSERT_FALSE(message.empty()) << bad.key << "=" << bad.value << " was accepted";
  EXPECT_TRUE(contains(message, "'" + bad.key + "'")) << message;
  EXPECT_TRUE(contains(message, "'" + bad.value + "'")) << message;
  EXPECT_TRUE(contains(message, "stage 'detect'")) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Values, DetectorFactoryBadValue,
    ::testing::Values(BadValue{"hog", "scale", "0.9"}, BadValue{"hog", "scale", "1"},
                      BadValue{"hog", "scale", "fast"}, BadValue{"hog", "win_stride", "7"},
                      BadValue{"hog", "win_stride", "12x8"}, BadValue{"hog", "padding", "-8"},
                      BadValue{"hog", "group_threshold", "-1"},
                      BadValue{"hog", "group_threshold", "1.5"}, BadValue{"hog", "downscale", "0"},
                      BadValue{"hog", "downscale", "1.5"}, BadValue{"cascade", "downscale", "0"},
                      BadValue{"cascade", "min_neighbors", "-1"},
                      BadValue{"cascade", "scale_factor", "1.0"},
                      BadValue{"cascade", "equalize", "maybe"},
                      BadValue{"cascade", "max_size", "20x20"}, BadValue{"cascade", "label", ""}),
    [](const ::testing::TestParamInfo<BadValue>& param_info) {
      std::string name =
          param_info.param.type + "_" + param_info.param.key + "_" + param_info.param.value;
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
      return name + "_" + std::to_string(param_info.index);
    });

TEST(DetectorFactory, MissingCascadeFileIsAConfigErrorNamingThePath) {
  const std::string path = "/nonexistent/faces.xml";
  const std::string message = config_error(spec("cascade", {{"cascade", path}}));
  EXPECT_TRUE(contains(message, "cascade '" + path + "' does not exist")) << message;
}

TEST(DetectorFactory, InvalidCascadeFileIsAConfigErrorNamingThePath) {
  const std::string dir = testing::make_temp_dir("cascade");
  const std::string path = dir + "/not_a_cascade.xml";
  std::ofstream(path) << "<?xml version=\"1.0\"?>\n<opencv_storage>\n<answer>42</answer>\n"
                         "</opencv_storage>\n";
  const std::string message = config_error(spec("cascade", {{"cascade", path}}));
  EXPECT_TRUE(contains(message, "cascade '" + path + "' is not a valid Haar or LBP cascade XML"))
      << message;

  const std::string garbage = dir + "/garbage.xml";
  std::ofstream(garbage) << "this is not xml at all <<<";
  const std::string garbage_message = config_error(spec("cascade", {{"cascade", garbage}}));
  EXPECT_TRUE(contains(garbage_message, "'" + garbage + "' is not a valid")) << garbage_message;
}

TEST(DetectorFactory, AcceptsValidOptionsForBothTypes) {
  EXPECT_NO_THROW(make_detector_factory(spec("hog", {{"win_stride", "16x16"},
                                                     {"padding", "0"},
                                                     {"scale", "1.2"},
                                                     {"hit_threshold", "0.5"},
                                                     {"group_threshold", "0"},
                                                     {"downscale", "0.5"}})));
  EXPECT_NO_THROW(make_detector_factory(spec("cascade", {{"cascade", kLbpCascade},
                                                         {"label", "head"},
                                                         {"scale_factor", "1.2"},
                                                         {"min_neighbors", "0"},
                                                         {"min_size", "20"},
                                                         {"max_size", "200x200"},
                                                         {"equalize", "off"},
                                                         {"downscale", "1"}})));
}

TEST(DetectorFactory, OptionKeysListEveryDocumentedKey) {
  EXPECT_EQ(detector_option_keys("hog"),
            (std::vector<std::string>{"win_stride", "padding", "scale", "hit_threshold",
                                      "group_threshold", "downscale"}));
  EXPECT_EQ(detector_option_keys("cascade"),
            (std::vector<std::string>{"cascade", "label", "scale_factor", "min_neighbors",
                                      "min_size", "max_size", "equalize", "downscale"}));
  EXPECT_TRUE(detector_option_keys("tracker").empty());
}

TEST(DetectorFactory, EveryListedKeyIsAccepted) {
  // Each key with a valid value must get past check_all_used, so the list and the parser agree.
  const std::vector<std::pair<std::string, std::string>> valid{
      {"win_stride", "8"},      {"padding", "8"},         {"scale", "1.1"},
      {"hit_threshold", "0"},   {"group_threshold", "2"}, {"downscale", "0.5"},
      {"cascade", kLbpCascade}, {"label", "face"},        {"scale_factor", "1.1"},
      {"min_neighbors", "3"},   {"min_size", "30"},       {"max_size", "0"},
      {"equalize", "true"}};
  for (const std::string type : {"hog", "cascade"}) {
    for (const auto& key : detector_option_keys(type)) {
      const auto it = std::find_if(valid.begin(), valid.end(),
                                   [&](const auto& entry) { return entry.first == key; });
      ASSERT_NE(it, valid.end()) << "no sample value for " << key;
      EXPECT_NO_THROW(make_detector_factory(spec(type, {*it}))) << type << " " << key;
    }
  }
}

TEST(DetectorFactory, MakesAFreshInstanceEachCall) {
  for (const std::string type : {"hog", "cascade"}) {
    for (const std::string downscale : {"1", "0.5"}) {
      const DetectorFactory factory = make_detector_factory(spec(type, {{"downscale", downscale}}));
      std::unique_ptr<Detector> first = factory();
      std::unique_ptr<Detector> second = factory();
      ASSERT_NE(first, nullptr);
      ASSERT_NE(second, nullptr);
      EXPECT_NE(first.get(), second.get());
    }
  }
}

TEST(DetectorFactory, InstancesWorkIndependently) {
  const DetectorFactory factory = make_detector_factory(spec("cascade"));
  std::unique_ptr<Detector> first = factory();
  const cv::Mat blank(120, 160, CV_8UC3, cv::Scalar(90, 90, 90));
  // Destroying one instance must leave the other usable: nothing is shared between them.
  const auto expected = first->detect(blank);
  std::unique_ptr<Detector> second = factory();
  first.reset();
  EXPECT_EQ(second->detect(blank), expected);
  EXPECT_TRUE(expected.empty());
}

}  // namespace
}  // namespace lookout
