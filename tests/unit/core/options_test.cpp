#include "lookout/core/options.h"

#include <gtest/gtest.h>

#include "lookout/core/error.h"
#include "support/errors.h"

namespace lookout {
namespace {

using testing::config_error;

TEST(Options, ParsesTypedValuesAndFallsBack) {
  Options options("stage 1 (hog)");
  options.set("scale", "1.1", "p.yaml:3:5");
  options.set("stride", "8x16", "p.yaml:4:5");
  options.set("pad", "4", "--opt");
  options.set("list", "2, 3", "--opt");
  options.set("flag", "off", "--opt");
  options.set("n", "3", "--opt");
  EXPECT_DOUBLE_EQ(options.get_double("scale", 1.05, 1.0, 2.0), 1.1);
  EXPECT_EQ(options.get_size("stride", {8, 8}, 1, 64), cv::Size(8, 16));
  EXPECT_EQ(options.get_size("pad", {0, 0}, 0, 64), cv::Size(4, 4));
  EXPECT_EQ(options.get_size("list", {0, 0}, 0, 64), cv::Size(2, 3));
  EXPECT_FALSE(options.get_bool("flag", true));
  EXPECT_EQ(options.get_int("n", 0, 0, 10), 3);
  EXPECT_EQ(options.get_int("missing", 42, 0, 100), 42);
  EXPECT_NO_THROW(options.check_all_used({}));
}

TEST(Options, LaterSetsOverrideEarlierOnes) {
  Options options;
  options.set("scale", "1.1", "file");
  options.set("scale", "1.2", "--opt");
  EXPECT_DOUBLE_EQ(options.get_double("scale", 1.0, 1.0, 2.0), 1.2);
}

TEST(Options, RejectsOutOfRangeAndMalformedValuesNamingPlaceKeyAndValue) {
  Options options("stage 1 (hog)");
  options.set("scale", "0.9", "p.yaml:3:5");
  options.set("n", "2.5", "--opt");
  options.set("flag", "maybe", "--opt");
  options.set("size", "8y", "--opt");
  const std::string scale = config_error([&] { options.get_double("scale", 1.05, 1.001, 2.0); });
  EXPECT_NE(scale.find("p.yaml:3:5"), std::string::npos) << scale;
  EXPECT_NE(scale.find("stage 1 (hog)"), std::string::npos) << scale;
  EXPECT_NE(scale.find("'scale'"), std::string::npos) << scale;
  EXPECT_NE(scale.find("'0.9'"), std::string::npos) << scale;
  EXPECT_NE(config_error([&] { options.get_int("n", 0, 0, 10); }).find("whole number"), std::string::npos);
  EXPECT_NE(config_error([&] { options.get_bool("flag", true); }).find("true or false"), std::string::npos);
  EXPECT_NE(config_error([&] { options.get_size("size", {1, 1}, 1, 10); }).find("8x8"), std::string::npos);
}

TEST(Options, UnknownKeysSuggestTheNearestKnownKey) {
  Options options("stage 1 (hog)");
  options.set("win_strid", "8", "p.yaml:5:5");
  options.set("zzz", "1", "p.yaml:6:5");
  const std::string message = config_error([&] { options.check_all_used({"win_stride", "padding", "scale"}); });
  EXPECT_NE(message.find("p.yaml:5:5"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'win_stride'"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown option 'zzz'; known options: win_stride, padding, scale"), std::string::npos)
      << message;
}

TEST(Options, NearestFindsCloseWordsOnly) {
  EXPECT_EQ(nearest("hgo", {"hog", "cascade"}), "hog");
  EXPECT_EQ(nearest("Cascade", {"hog", "cascade"}), "cascade");
  EXPECT_FALSE(nearest("yolo", {"hog", "cascade"}).has_value());
}

}  // namespace
}  // namespace lookout
