// The `codes` detector: its options as make_detector_factory checks them, and what it reads from
// still pictures of codes drawn at known places (hermetic: no video, no files).

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "support/code_scene.h"

namespace lookout {
namespace {

using testing::iou;
using testing::PlacedCode;

DetectorSpec spec(const std::vector<std::pair<std::string, std::string>>& values = {}) {
  DetectorSpec result{"codes", Options("stage 'detect'")};
  for (const auto& [key, value] : values) result.options.set(key, value, "test.yaml:3:5");
  return result;
}

std::string config_error(const std::vector<std::pair<std::string, std::string>>& values) {
  try {
    make_detector_factory(spec(values));
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

std::unique_ptr<Detector> codes(
    const std::vector<std::pair<std::string, std::string>>& values = {}) {
  return make_detector_factory(spec(values))();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The detection that reads `code` (same label and text, box overlapping by IoU >= min_iou).
const Detection* find(const std::vector<Detection>& detections, const PlacedCode& code,
                      double min_iou = 0.8) {
  for (const auto& detection : detections) {
    if (detection.label == code.label && detection.text == code.text &&
        iou(detection.box, code.box) >= min_iou) {
      return &detection;
    }
  }
  return nullptr;
}

// A mid-gray canvas with one code drawn off its middle lines.
struct Still {
  cv::Mat image;
  PlacedCode code;
};
Still still(const std::string& label, const std::string& text, int module = 3, int bar_height = 60,
            const std::string& encoder = "zxing") {
  const auto rendered = testing::render_code(label, text, module, 10, encoder, bar_height);
  Still result;
  result.image = cv::Mat(rendered.image.rows + 100, rendered.image.cols + 180, CV_8UC3,
                         cv::Scalar(150, 160, 170));
  result.code = {label, text, testing::place_code(result.image, rendered, {20, 15})};
  return result;
}

// ---- options ----

TEST(CodesOptions, CodesIsAKnownDetectorType) {
  const auto types = detector_types();
  EXPECT_NE(std::find(types.begin(), types.end(), "codes"), types.end());
}

TEST(CodesOptions, OptionKeysListEveryDocumentedKey) {
  EXPECT_EQ(detector_option_keys("codes"),
            (std::vector<std::string>{"formats", "try_harder", "try_rotate", "try_downscale",
                                      "binarizer", "max_codes", "patches", "downscale"}));
}

TEST(CodesOptions, EveryListedKeyIsAccepted) {
  const std::vector<std::pair<std::string, std::string>> valid{{"formats", "QR"},
                                                               {"try_harder", "false"},
                                                               {"try_rotate", "no"},
                                                               {"try_downscale", "off"},
                                                               {"binarizer", "global_histogram"},
                                                               {"max_codes", "3"},
                                                               {"patches", "0"},
                                                               {"downscale", "0.5"}};
  for (const auto& key : detector_option_keys("codes")) {
    const auto it = std::find_if(valid.begin(), valid.end(),
                                 [&](const auto& entry) { return entry.first == key; });
    ASSERT_NE(it, valid.end()) << "no sample value for " << key;
    EXPECT_NO_THROW(make_detector_factory(spec({*it}))) << key;
  }
}

TEST(CodesOptions, FormatsAcceptListsCommaStringsAndLooseSpelling) {
  for (const std::string formats :
       {"QR", "QRCode", "qr_code", "QR, EAN-13", "QR,DataMatrix,EAN-13,EAN-8,UPC-A,UPC-E,Code128",
        "ean13|code_128", "code39, ITF, aztec, pdf417", "all", "linear", "matrix", "Micro QR",
        "DataBar, DataBarExpanded, Codabar, Code93"}) {
    EXPECT_NO_THROW(make_detector_factory(spec({{"formats", formats}}))) << formats;
  }
}

TEST(CodesOptions, UnknownFormatNamesTheOptionSuggestsTheNearestAndListsTheValidOnes) {
  const std::string message = config_error({{"formats", "QR,EAN-14"}});
  EXPECT_TRUE(contains(message, "test.yaml:3:5")) << message;
  EXPECT_TRUE(contains(message, "stage 'detect'")) << message;
  EXPECT_TRUE(contains(message, "option 'formats' has value 'QR,EAN-14'")) << message;
  EXPECT_TRUE(contains(message, "'EAN-14' is not a code format")) << message;
  EXPECT_TRUE(contains(message, "did you mean 'EAN-13'?")) << message;
  EXPECT_TRUE(contains(message,
                       "valid: all, linear, matrix, Aztec, Codabar, Code39, Code93, "
                       "Code128, DataBar, DataBarExpanded, DataMatrix, EAN-8, EAN-13, "
                       "ITF, PDF417, QRCode, UPC-A, UPC-E, MicroQRCode"))
      << message;

  const std::string matrix = config_error({{"formats", "DataMatrx"}});
  EXPECT_TRUE(contains(matrix, "did you mean 'DataMatrix'?")) << matrix;
}

TEST(CodesOptions, UnknownFormatFarFromAnyStillListsTheValidOnes) {
  const std::string message = config_error({{"formats", "hologram"}});
  EXPECT_TRUE(contains(message, "'hologram' is not a code format")) << message;
  EXPECT_FALSE(contains(message, "did you mean")) << message;
  EXPECT_TRUE(contains(message, "valid: all, linear, matrix, Aztec")) << message;
}

TEST(CodesOptions, MaxiCodeIsRefusedWithTheReason) {
  const std::string message = config_error({{"formats", "QR, MaxiCode"}});
  EXPECT_TRUE(contains(message, "'MaxiCode' cannot be read from video")) << message;
  EXPECT_TRUE(contains(message, "only from images that hold nothing but the code")) << message;
}

TEST(CodesOptions, EmptyFormatListIsRejected) {
  for (const std::string formats : {"", ",", " , "}) {
    const std::string message = config_error({{"formats", formats}});
    EXPECT_TRUE(contains(message, "option 'formats'")) << formats << ": " << message;
    EXPECT_TRUE(contains(message, "at least one code format")) << formats << ": " << message;
  }
}

TEST(CodesOptions, UnknownBinarizerListsTheValidOnes) {
  const std::string message = config_error({{"binarizer", "otsu"}});
  EXPECT_TRUE(contains(message, "option 'binarizer' has value 'otsu'")) << message;
  EXPECT_TRUE(
      contains(message, "one of local_average, global_histogram, fixed_threshold, bool_cast"))
      << message;
}

TEST(CodesOptions, UnknownOptionSuggestsTheNearestKey) {
  const std::string format = config_error({{"format", "QR"}});
  EXPECT_TRUE(contains(format, "unknown option 'format'")) << format;
  EXPECT_TRUE(contains(format, "did you mean 'formats'?")) << format;

  const std::string max = config_error({{"max_code", "2"}});
  EXPECT_TRUE(contains(max, "did you mean 'max_codes'?")) << max;
}

struct BadValue {
  std::string key;
  std::string value;
};

class CodesBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(CodesBadValue, IsAConfigErrorNamingTheKeyAndTheValue) {
  const BadValue& bad = GetParam();
  const std::string message = config_error({{bad.key, bad.value}});
  ASSERT_FALSE(message.empty()) << bad.key << "=" << bad.value << " was accepted";
  EXPECT_TRUE(contains(message, "option '" + bad.key + "' has value '" + bad.value + "'"))
      << message;
  EXPECT_TRUE(contains(message, "stage 'detect'")) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Values, CodesBadValue,
    ::testing::Values(BadValue{"try_harder", "maybe"}, BadValue{"try_rotate", "2"},
                      BadValue{"try_downscale", "yes please"}, BadValue{"binarizer", ""},
                      BadValue{"max_codes", "-1"}, BadValue{"max_codes", "256"},
                      BadValue{"max_codes", "1.5"}, BadValue{"patches", "-1"},
                      BadValue{"patches", "5000"}, BadValue{"patches", "many"},
                      BadValue{"downscale", "0"}, BadValue{"formats", "QR;EAN-13"}),
    [](const ::testing::TestParamInfo<BadValue>& param_info) {
      std::string name = param_info.param.key + "_" + param_info.param.value;
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
      return name + "_" + std::to_string(param_info.index);
    });

// ---- reading codes ----

class Codes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { configure_opencv_threads(); }
};

TEST_F(Codes, ReadsAQrCodeDrawnByOpenCVWithItsTextLabelAndBox) {
  const Still picture = still("QRCode", "https://lookout.example/parcel/42", 4, 0, "opencv");
  const auto detections = codes()->detect(picture.image);

  ASSERT_EQ(detections.size(), 1u);
  EXPECT_EQ(detections[0].label, "QRCode");
  EXPECT_EQ(detections[0].text, "https://lookout.example/parcel/42");
  EXPECT_EQ(detections[0].score, 1.0);
  EXPECT_GE(iou(detections[0].box, picture.code.box), 0.9)
      << detections[0].box << " vs " << picture.code.box;
}

struct Sample {
  std::string label;
  std::string text;
};

class CodesEachFormat : public Codes, public ::testing::WithParamInterface<Sample> {};

TEST_P(CodesEachFormat, ReadsTheFormatWithItsTextAndBox) {
  const Still picture = still(GetParam().label, GetParam().text);
  const auto detections = codes()->detect(picture.image);

  ASSERT_EQ(detections.size(), 1u) << GetParam().label;
  EXPECT_EQ(detections[0].label, GetParam().label);
  EXPECT_EQ(detections[0].text, GetParam().text);
  EXPECT_GE(iou(detections[0].box, picture.code.box), 0.9)
      << detections[0].box << " vs " << picture.code.box;
}

// Texts with valid check digits where the format has one, so that what is read equals what was
// written.
INSTANTIATE_TEST_SUITE_P(
    Formats, CodesEachFormat,
    ::testing::Values(Sample{"QRCode", "lookout"}, Sample{"DataMatrix", "DM 0042"},
                      Sample{"Aztec", "aztec lookout"}, Sample{"PDF417", "pdf417 lookout"},
                      Sample{"EAN-13", "4006381333931"}, Sample{"EAN-8", "96385074"},
                      Sample{"UPC-A", "036000291452"}, Sample{"UPC-E", "01234565"},
                      Sample{"Code128", "Code 128!"}, Sample{"Code39", "LOOKOUT-39"},
                      Sample{"Code93", "LOOKOUT93"}, Sample{"ITF", "00012345678905"}),
    [](const ::testing::TestParamInfo<Sample>& param_info) {
      std::string name = param_info.param.label;
      name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
      return name;
    });

TEST_F(Codes, ReadsEveryCodeOfAClutteredSceneInPositionOrder) {
  const auto frame = testing::code_scene_frame(0);
  const auto detections = codes()->detect(frame.image);

  ASSERT_EQ(detections.size(), frame.codes.size());
  for (const auto& code : frame.codes) {
    EXPECT_NE(find(detections, code), nullptr)
        << code.label << " '" << code.text << "' at " << code.box;
  }
  for (std::size_t i = 1; i < detections.size(); ++i) {
    const cv::Rect& before = detections[i - 1].box;
    const cv::Rect& after = detections[i].box;
    EXPECT_TRUE(before.y < after.y || (before.y == after.y && before.x <= after.x))
        << before << " is listed before " << after;
  }
}

TEST_F(Codes, FormatsOptionLimitsWhatIsRead) {
  const auto frame = testing::code_scene_frame(0);
  const auto detections = codes({{"formats", "QR, EAN-13"}})->detect(frame.image);

  ASSERT_EQ(detections.size(), 3u);
  for (const auto& detection : detections) {
    EXPECT_TRUE(detection.label == "QRCode" || detection.label == "EAN-13") << detection.label;
  }
}

TEST_F(Codes, MaxCodesLimitsTheCount) {
  const auto frame = testing::code_scene_frame(0);
  for (const int limit : {1, 2, 5}) {
    const auto detections = codes({{"max_codes", std::to_string(limit)}})->detect(frame.image);
    EXPECT_EQ(detections.size(), static_cast<std::size_t>(limit));
    for (const auto& detection : detections) {
      const bool drawn = std::any_of(frame.codes.begin(), frame.codes.end(),
                                     [&](const auto& code) { return code.text == detection.text; });
      EXPECT_TRUE(drawn) << detection.label << " '" << detection.text.value_or("") << "'";
    }
  }
}

// zxing-cpp 1.4 finds DataMatrix and Aztec codes only on the middle lines of what it searches; the
// scene's lie away from them, so reading them is the patch search's doing.
TEST_F(Codes, PatchSearchReadsDataMatrixAndAztecAwayFromTheMiddleLines) {
  const auto frame = testing::code_scene_frame(0);
  const auto with_patches = codes({{"formats", "DataMatrix, Aztec"}})->detect(frame.image);
  const auto without =
      codes({{"formats", "DataMatrix, Aztec"}, {"patches", "0"}})->detect(frame.image);

  for (const auto& code : frame.codes) {
    if (code.label != "DataMatrix" && code.label != "Aztec") continue;
    EXPECT_NE(find(with_patches, code), nullptr) << code.label;
    EXPECT_EQ(find(without, code), nullptr) << code.label;
  }
}

// Side by side with a quiet zone of one module each, away from the middle lines, the two make one
// patch at every scale: the first code read there is painted over so that the next search of the
// patch finds the second.
TEST_F(Codes, ReadsTwoDataMatrixCodesThatTouch) {
  const auto first = testing::render_code("DataMatrix", "first", 4, 1);
  const auto second = testing::render_code("DataMatrix", "second", 4, 1);
  cv::Mat image(360, 480, CV_8UC3, cv::Scalar(120, 130, 140));
  const PlacedCode a{"DataMatrix", "first", testing::place_code(image, first, {70, 50})};
  const PlacedCode b{"DataMatrix", "second",
                     testing::place_code(image, second, {70 + first.image.cols, 50})};

  const auto detections = codes()->detect(image);

  EXPECT_EQ(detections.size(), 2u);
  EXPECT_NE(find(detections, a), nullptr);
  EXPECT_NE(find(detections, b), nullptr);
}

TEST_F(Codes, TryRotateReadsABarcodeStandingOnItsEnd) {
  const Still picture = still("Code128", "UPRIGHT-7", 2, 50);
  cv::Mat turned;
  cv::rotate(picture.image, turned, cv::ROTATE_90_CLOCKWISE);

  const auto rotated = codes()->detect(turned);
  const auto unrotated = codes({{"try_rotate", "false"}})->detect(turned);

  ASSERT_EQ(rotated.size(), 1u);
  EXPECT_EQ(rotated[0].text, "UPRIGHT-7");
  // The box is in the turned picture's pixels: tall and narrow.
  EXPECT_GT(rotated[0].box.height, rotated[0].box.width) << rotated[0].box;
  EXPECT_TRUE(unrotated.empty());
}

TEST_F(Codes, DownscaledBoxesAreInInputPixels) {
  const Still picture = still("QRCode", "big and clear", 8);
  const auto detections = codes({{"downscale", "0.5"}})->detect(picture.image);

  ASSERT_EQ(detections.size(), 1u);
  EXPECT_EQ(detections[0].text, "big and clear");
  EXPECT_GE(iou(detections[0].box, picture.code.box), 0.85)
      << detections[0].box << " vs " << picture.code.box;
}

TEST_F(Codes, AcceptsGrayAndBgraPicturesAlike) {
  const Still picture = still("DataMatrix", "any layout");
  cv::Mat gray;
  cv::Mat bgra;
  cv::cvtColor(picture.image, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(picture.image, bgra, cv::COLOR_BGR2BGRA);
  auto detector = codes();

  const auto from_bgr = detector->detect(picture.image);
  ASSERT_EQ(from_bgr.size(), 1u);
  EXPECT_EQ(detector->detect(gray), from_bgr);
  EXPECT_EQ(detector->detect(bgra), from_bgr);
  // A gray input is read in place; reading a colour one next must not write into it.
  const cv::Mat before = gray.clone();
  detector->detect(gray);
  detector->detect(picture.image);
  EXPECT_EQ(cv::norm(gray, before, cv::NORM_INF), 0.0);
}

TEST_F(Codes, FindsNothingInPicturesWithoutCodes) {
  auto detector = codes();
  EXPECT_TRUE(detector->detect(cv::Mat()).empty());
  EXPECT_TRUE(detector->detect(cv::Mat(1, 1, CV_8UC3, cv::Scalar(0, 0, 0))).empty());
  cv::Mat noise(240, 320, CV_8UC3);
  cv::RNG rng(5);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  EXPECT_TRUE(detector->detect(noise).empty());
}

TEST_F(Codes, RejectsPicturesThatAreNotEightBit) {
  const cv::Mat deep(100, 100, CV_16UC1, cv::Scalar(0));
  EXPECT_THROW(codes()->detect(deep), std::invalid_argument);
}

TEST_F(Codes, IsDeterministicAcrossCallsAndInstances) {
  auto first = codes();
  auto second = codes();
  for (const int index : {0, 7, 19}) {
    const auto frame = testing::code_scene_frame(index);
    const auto once = first->detect(frame.image);
    ASSERT_FALSE(once.empty());
    EXPECT_EQ(first->detect(frame.image), once);
    EXPECT_EQ(second->detect(frame.image), once);
  }
}

}  // namespace
}  // namespace lookout
