// The neural detectors' decoding, on small ONNX models whose outputs are tensors the tests choose
// (support/onnx_model.h): YOLO v5 and v8, SSD's two layouts and BlazeFace, each through the
// factory as a user would configure it, with a frame that must be letterboxed. Also their
// configuration errors: missing, corrupt and wrongly shaped models, labels and classes.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "detect/blazeface_detector.h"
#include "detect/dnn_support.h"
#include "lookout/core/error.h"
#include "lookout/detect/detector.h"
#include "support/errors.h"
#include "support/media.h"
#include "support/onnx_model.h"

namespace lookout {
namespace {

using testing::ConstantOutput;
using testing::write_onnx_model;

using Values = std::vector<std::pair<std::string, std::string>>;

DetectorSpec spec(const std::string& type, const Values& values) {
  DetectorSpec result{type, Options("stage 'detect'")};
  for (const auto& [key, value] : values) result.options.set(key, value, "test.yaml:4:5");
  return result;
}

std::string config_error(const std::string& type, const Values& values) {
  return testing::config_error([&] { make_detector_factory(spec(type, values)); });
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What a detection must be, exactly.
struct Expected {
  cv::Rect box;
  std::string label;
  double score;
};

void expect_detections(const std::vector<Detection>& found, const std::vector<Expected>& expected) {
  ASSERT_EQ(found.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(found[i].box, expected[i].box) << "detection " << i;
    EXPECT_EQ(found[i].label, expected[i].label) << "detection " << i;
    EXPECT_EQ(found[i].score, expected[i].score) << "detection " << i;
  }
}

// A 640x360 frame into a 320x320 network: scaled by 1/2 to 320x180 and centred, 70 rows of
// padding above. Network (x, y) is frame (2x, 2(y - 70)).
const cv::Mat& wide_frame() {
  static const cv::Mat frame(360, 640, CV_8UC3, cv::Scalar(40, 90, 160));
  return frame;
}

// Eight YOLO boxes in network pixels with three classes (person, car, dog), and two empty rows.
// Each row: cx, cy, w, h, objectness, then the class scores.
struct YoloBox {
  float cx, cy, w, h, objectness;
  std::vector<float> classes;
};
const std::vector<YoloBox> kYoloBoxes{
    {100, 150, 40, 60, 1.0F, {0.875F, 0.125F, 0.0F}},  // A: person, kept
    {104, 150, 40, 60, 1.0F, {0.75F, 0.0F, 0.0F}},     // B: person under A (IoU 0.82), suppressed
    {100, 152, 40, 60, 1.0F, {0.0F, 0.625F, 0.0F}},    // C: car over A, kept: NMS is per class
    {250, 100, 20, 20, 0.5F, {0.0F, 0.0F, 0.25F}},     // D: 0.5 x 0.25 below 0.25, dropped
    {200, 200, 64, 32, 0.75F, {0.0F, 0.0F, 0.5F}},     // E: dog, 0.75 x 0.5
    {300, 80, 20, 40, 1.0F, {0.5F, 0.0F, 0.0F}},       // F: person half in the padding, clipped
    {160, 30, 20, 20, 1.0F, {0.0F, 0.875F, 0.0F}},     // G: wholly in the padding, dropped
    {0, 0, 0, 0, 0.0F, {0.0F, 0.0F, 0.0F}},           {0, 0, 0, 0, 0.0F, {0.0F, 0.0F, 0.0F}},
    {0, 0, 0, 0, 0.0F, {0.0F, 0.0F, 0.0F}},
};

// In frame pixels, sorted by position: F, A, C, E.
const std::vector<Expected> kYoloExpected{
    {cv::Rect(580, 0, 40, 60), "person", 0.5},
    {cv::Rect(160, 100, 80, 120), "person", 0.875},
    {cv::Rect(160, 104, 80, 120), "car", 0.625},
    {cv::Rect(336, 228, 128, 64), "dog", 0.375},
};

// v5: 1 x N x (5+C), one box a row.
ConstantOutput yolo_v5_output() {
  ConstantOutput output{"output0", {1, static_cast<std::int64_t>(kYoloBoxes.size()), 8}, {}};
  for (const auto& box : kYoloBoxes) {
    output.values.insert(output.values.end(), {box.cx, box.cy, box.w, box.h, box.objectness});
    output.values.insert(output.values.end(), box.classes.begin(), box.classes.end());
  }
  return output;
}

// v8: 1 x (4+C) x N, one box a column, class score = v5's objectness x class score.
ConstantOutput yolo_v8_output() {
  const auto n = static_cast<std::int64_t>(kYoloBoxes.size());
  ConstantOutput output{"output0", {1, 7, n}, std::vector<float>(static_cast<std::size_t>(7 * n))};
  for (std::size_t i = 0; i < kYoloBoxes.size(); ++i) {
    const YoloBox& box = kYoloBoxes[i];
    const float values[] = {box.cx,
                            box.cy,
                            box.w,
                            box.h,
                            box.objectness * box.classes[0],
                            box.objectness * box.classes[1],
                            box.objectness * box.classes[2]};
    for (std::size_t v = 0; v < 7; ++v) output.values[v * kYoloBoxes.size() + i] = values[v];
  }
  return output;
}

class NeuralDetectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { configure_opencv_threads(); }
  void SetUp() override {
    dir_ = testing::make_temp_dir("neural");
    labels_ = write_text("coco3.txt", "person\ncar\ndog\n");
  }

  std::string write_text(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::string model(const std::string& name, const std::vector<ConstantOutput>& outputs,
                    std::vector<std::int64_t> input = {1, 3, 320, 320}) {
    const std::string path = dir_ + "/" + name;
    write_onnx_model(path, input, outputs);
    return path;
  }
  std::vector<Detection> detect(const std::string& type, const Values& values,
                                const cv::Mat& frame) {
    return make_detector_factory(spec(type, values))()->detect(frame);
  }

  std::string dir_;
  std::string labels_;
};

TEST_F(NeuralDetectors, YoloV5BoxesClassesAndScoresAreExactAfterLetterboxAndNms) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  expect_detections(
      detect("yolo", {{"model", path}, {"labels", labels_}, {"input_size", "320"}}, wide_frame()),
      kYoloExpected);
}

TEST_F(NeuralDetectors, YoloV8BoxesClassesAndScoresAreExactAfterLetterboxAndNms) {
  const std::string path = model("v8.onnx", {yolo_v8_output()});
  expect_detections(
      detect("yolo", {{"model", path}, {"labels", labels_}, {"input_size", "320x320"}},
             wide_frame()),
      kYoloExpected);
}

TEST_F(NeuralDetectors, YoloLayoutIsToldApartByShapeWithoutALabelsFile) {
  // Without labels the classes are numbers; v5 (10 x 8) and v8 (7 x 10) are still recognised.
  std::vector<Expected> numbered = kYoloExpected;
  for (auto& expected : numbered) {
    expected.label = expected.label == "person" ? "0" : expected.label == "car" ? "1" : "2";
  }
  for (const auto& output : {yolo_v5_output(), yolo_v8_output()}) {
    const std::string path = model("auto.onnx", {output});
    expect_detections(detect("yolo", {{"model", path}, {"input_size", "320"}}, wide_frame()),
                      numbered);
  }
}

TEST_F(NeuralDetectors, YoloExplicitLayoutDecodesTheSame) {
  const std::string v5 = model("v5.onnx", {yolo_v5_output()});
  const std::string v8 = model("v8.onnx", {yolo_v8_output()});
  const Values common{{"labels", labels_}, {"input_size", "320"}};
  Values with_v5 = common;
  with_v5.insert(with_v5.end(), {{"model", v5}, {"layout", "v5"}});
  Values with_v8 = common;
  with_v8.insert(with_v8.end(), {{"model", v8}, {"layout", "v8"}});
  expect_detections(detect("yolo", with_v5, wide_frame()), kYoloExpected);
  expect_detections(detect("yolo", with_v8, wide_frame()), kYoloExpected);
}

TEST_F(NeuralDetectors, YoloClassesKeepsOnlyTheNamedClasses) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  const auto found = detect(
      "yolo",
      {{"model", path}, {"labels", labels_}, {"input_size", "320"}, {"classes", "person,dog"}},
      wide_frame());
  expect_detections(found, {kYoloExpected[0], kYoloExpected[1], kYoloExpected[3]});

  const auto numbered =
      detect("yolo", {{"model", path}, {"input_size", "320"}, {"classes", "1"}}, wide_frame());
  expect_detections(numbered, {{cv::Rect(160, 104, 80, 120), "1", 0.625}});
}

TEST_F(NeuralDetectors, YoloThresholdsAreOptions) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  // At 0.6 only A and C are left; at an NMS threshold of 0.9, B (IoU 0.82 with A) survives too.
  expect_detections(
      detect(
          "yolo",
          {{"model", path}, {"labels", labels_}, {"input_size", "320"}, {"score_threshold", "0.6"}},
          wide_frame()),
      {kYoloExpected[1], kYoloExpected[2]});
  const auto loose = detect(
      "yolo",
      {{"model", path}, {"labels", labels_}, {"input_size", "320"}, {"nms_threshold", "0.9"}},
      wide_frame());
  ASSERT_EQ(loose.size(), 5U);
  EXPECT_EQ(loose[2].box, cv::Rect(168, 100, 80, 120));
  EXPECT_EQ(loose[2].score, 0.75);
}

TEST_F(NeuralDetectors, SquareFrameOfTheNetworkSizeIsNotResized) {
  // No letterbox at all: network pixels are frame pixels.
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  const cv::Mat square(320, 320, CV_8UC3, cv::Scalar::all(0));
  const auto found =
      detect("yolo", {{"model", path}, {"labels", labels_}, {"input_size", "320"}}, square);
  ASSERT_EQ(found.size(), 5U);  // F is whole now and G lies inside the frame
  EXPECT_EQ(found[0].box, cv::Rect(150, 20, 20, 20));
  EXPECT_EQ(found[0].label, "car");
}

// SSD rows: image id, class, score, x1, y1, x2, y2 normalised to the 320x320 input.
ConstantOutput ssd_detection_output() {
  const std::vector<std::vector<float>> rows{
      {0, 1, 0.875F, 0.25F, 0.375F, 0.375F, 0.5625F},    // person: network (80,120)-(120,180)
      {0, 1, 0.75F, 0.2625F, 0.375F, 0.3875F, 0.5625F},  // person under it, suppressed
      {0, 2, 0.625F, 0.25F, 0.375F, 0.375F, 0.5625F},    // car at the same place, kept
      {0, 2, 0.25F, 0.5F, 0.5F, 0.75F, 0.75F},           // below 0.5, dropped
      {-1, 0, 0, 0, 0, 0, 0},                            // padding row
      {0, 1, 0.5F, 0.5F, 0.5F, 0.625F, 0.75F},           // person: network (160,160)-(200,240)
  };
  ConstantOutput output{"detection_out", {1, 1, static_cast<std::int64_t>(rows.size()), 7}, {}};
  for (const auto& row : rows) output.values.insert(output.values.end(), row.begin(), row.end());
  return output;
}

const std::vector<Expected> kSsdExpected{
    {cv::Rect(160, 100, 80, 120), "car", 0.625},
    {cv::Rect(160, 100, 80, 120), "person", 0.875},
    {cv::Rect(320, 180, 80, 160), "person", 0.5},
};

TEST_F(NeuralDetectors, SsdDetectionOutputIsDecodedExactly) {
  const std::string labels = write_text("voc.txt", "background\nperson\ncar\n");
  const std::string path = model("ssd.onnx", {ssd_detection_output()});
  expect_detections(
      detect("ssd", {{"model", path}, {"labels", labels}, {"input_size", "320"}}, wide_frame()),
      kSsdExpected);
}

TEST_F(NeuralDetectors, SsdBoxesAndScoresAreDecodedExactly) {
  // Scores per class (background, person, car); the background never becomes a detection.
  ConstantOutput boxes{
      "boxes", {1, 5, 4}, {0.25F,   0.375F, 0.375F, 0.5625F, 0.2625F, 0.375F, 0.3875F,
                           0.5625F, 0.25F,  0.375F, 0.375F,  0.5625F, 0.0F,   0.0F,
                           1.0F,    1.0F,   0.5F,   0.5F,    0.625F,  0.75F}};
  ConstantOutput scores{"scores",
                        {1, 5, 3},
                        {0.125F, 0.875F, 0.0F, 0.25F, 0.75F, 0.0F, 0.375F, 0.0F, 0.625F, 0.875F,
                         0.25F, 0.25F, 0.5F, 0.5F, 0.0F}};
  const std::string labels = write_text("voc.txt", "background\nperson\ncar\n");
  // Scores first: the boxes are still found by their shape.
  const std::string path = model("ssd2.onnx", {scores, boxes});
  expect_detections(
      detect("ssd", {{"model", path}, {"labels", labels}, {"input_size", "320"}}, wide_frame()),
      kSsdExpected);
}

// BlazeFace: four outputs as the real models have them (listed here in another order), logits of
// -10 (probability 0.00005) except where faces are placed.
struct FakeFace {
  int anchor;
  float logit;
  std::vector<float> regressors;  // 16: dx, dy, w, h, then six keypoints (dx, dy)
};

std::vector<ConstantOutput> blazeface_outputs(const std::vector<FakeFace>& faces) {
  ConstantOutput scores_first{"scores_512", {1, 512, 1}, std::vector<float>(512, -10.0F)};
  ConstantOutput scores_second{"scores_384", {1, 384, 1}, std::vector<float>(384, -10.0F)};
  ConstantOutput boxes_first{"boxes_512", {1, 512, 16}, std::vector<float>(512 * 16, 0.0F)};
  ConstantOutput boxes_second{"boxes_384", {1, 384, 16}, std::vector<float>(384 * 16, 0.0F)};
  for (const auto& face : faces) {
    const bool first = face.anchor < 512;
    const int row = first ? face.anchor : face.anchor - 512;
    (first ? scores_first : scores_second).values[static_cast<std::size_t>(row)] = face.logit;
    std::copy(face.regressors.begin(), face.regressors.end(),
              (first ? boxes_first : boxes_second).values.begin() + row * 16);
  }
  return {boxes_second, scores_first, boxes_first, scores_second};
}

double sigmoid(double logit) { return 1.0 / (1.0 + std::exp(-logit)); }

TEST_F(NeuralDetectors, BlazeFaceAnchorsFollowMediaPipesScheme) {
  const auto front = blazeface_anchors(128, {8, 16, 16, 16});
  ASSERT_EQ(front.size(), 896U);
  EXPECT_FLOAT_EQ(front[0].x, 0.5F / 16);
  EXPECT_FLOAT_EQ(front[1].x, 0.5F / 16);  // two anchors per cell on the stride-8 grid
  EXPECT_FLOAT_EQ(front[2].x, 1.5F / 16);
  EXPECT_FLOAT_EQ(front[511].y, 15.5F / 16);
  EXPECT_FLOAT_EQ(front[512].x, 0.5F / 8);  // then six per cell on the stride-16 grid
  EXPECT_FLOAT_EQ(front[517].x, 0.5F / 8);
  EXPECT_FLOAT_EQ(front[518].x, 1.5F / 8);
  EXPECT_FLOAT_EQ(front[895].y, 7.5F / 8);
  const auto back = blazeface_anchors(256, {16, 32, 32, 32});
  ASSERT_EQ(back.size(), 896U);
  EXPECT_FLOAT_EQ(back[2].x, 1.5F / 16);
}

TEST_F(NeuralDetectors, BlazeFaceDecodesAnchorsMergesOverlapsAndMapsBackThroughTheLetterbox) {
  // The front scheme (128 x 128): the model runs only on 128-wide inputs. The frame is 256x128:
  // scaled by 1/2 to 128x64, 32 rows of padding above, so network (x, y) is frame (2x, 2(y - 32)).
  // Face 1: stride-8 cell (5, 8), anchor centre (44, 68); face 2, the cell's second anchor,
  // overlaps it and is merged into it. Face 3: stride-16 cell (6, 4), its fourth anchor, centre
  // (104, 72), at exactly the threshold probability (logit 0).
  const std::vector<float> kp{-4, -2, 4, -2, 0, 0, 0, 4, -8, 0, 8, 0};
  auto regressors = [&](float dx, float dy, float w, float h) {
    std::vector<float> values{dx, dy, w, h};
    for (std::size_t k = 0; k < kp.size(); ++k) values.push_back(kp[k] + (k % 2 == 0 ? dx : dy));
    return values;
  };
  const int face1 = (8 * 16 + 5) * 2;
  const int face3 = 512 + (4 * 8 + 6) * 6 + 3;
  const std::string path = model("blazeface.onnx",
                                 blazeface_outputs({{face1, 2.0F, regressors(2, -4, 32, 40)},
                                                    {face1 + 1, 1.0F, regressors(4, -4, 32, 40)},
                                                    {face3, 0.0F, regressors(0, 0, 16, 16)}}),
                                 {1, 128, 128, 3});
  const cv::Mat frame(128, 256, CV_8UC3, cv::Scalar::all(128));

  const auto found = detect("blazeface", {{"model", path}, {"keypoints", "true"}}, frame);

  ASSERT_EQ(found.size(), 2U);
  // Merged face: corners are the score-weighted mean of (30,44)-(62,84) and (32,44)-(64,84).
  const double s1 = static_cast<float>(sigmoid(2.0));
  const double s2 = static_cast<float>(sigmoid(1.0));
  const double x0 = (30 * s1 + 32 * s2) / (s1 + s2);
  const cv::Rect merged(
      static_cast<int>(std::lround(2 * x0)), 24,
      static_cast<int>(std::lround(2 * (x0 + 32))) - static_cast<int>(std::lround(2 * x0)), 80);
  EXPECT_EQ(found[0].box, merged);
  EXPECT_EQ(found[0].label, "face");
  EXPECT_FLOAT_EQ(static_cast<float>(found[0].score), static_cast<float>(s1));
  ASSERT_EQ(found[0].keypoints.size(), 6U);
  // Nose tip: (46, 64) and (48, 64) merged, in frame pixels.
  EXPECT_NEAR(found[0].keypoints[2].x, 2 * (46 * s1 + 48 * s2) / (s1 + s2), 1e-3);
  EXPECT_NEAR(found[0].keypoints[2].y, 2 * (64 - 32), 1e-3);

  EXPECT_EQ(found[1].box, cv::Rect(192, 64, 32, 32));
  EXPECT_EQ(found[1].score, 0.5);
  const std::vector<cv::Point2f> keypoints{{200, 76}, {216, 76}, {208, 80},
                                           {208, 88}, {192, 80}, {224, 80}};
  EXPECT_EQ(found[1].keypoints, keypoints);
}

TEST_F(NeuralDetectors, BlazeFaceKeypointsAreOffByDefaultAndThresholdsApply) {
  const int face = (8 * 16 + 5) * 2;
  std::vector<float> values(16, 0.0F);
  values[2] = values[3] = 32.0F;
  const std::string path =
      model("blazeface.onnx", blazeface_outputs({{face, 1.0F, values}}), {1, 128, 128, 3});
  const cv::Mat frame(128, 128, CV_8UC3, cv::Scalar::all(0));

  const auto found = detect("blazeface", {{"model", path}}, frame);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].box, cv::Rect(28, 52, 32, 32));
  EXPECT_TRUE(found[0].keypoints.empty());
  // sigmoid(1) = 0.73: gone at a threshold of 0.75.
  EXPECT_TRUE(detect("blazeface", {{"model", path}, {"score_threshold", "0.75"}}, frame).empty());
}

TEST_F(NeuralDetectors, BlazeFaceModelThatRunsOnlyAt256UsesTheBackAnchors) {
  // The back scheme: stride 16 for the first grid, so cell (5, 8) is centred on (88, 136).
  const int face = (8 * 16 + 5) * 2;
  std::vector<float> values(16, 0.0F);
  values[2] = values[3] = 32.0F;
  const std::string path =
      model("back.onnx", blazeface_outputs({{face, 1.0F, values}}), {1, 256, 256, 3});
  const cv::Mat frame(256, 256, CV_8UC3, cv::Scalar::all(0));
  const auto found = detect("blazeface", {{"model", path}}, frame);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].box, cv::Rect(72, 120, 32, 32));
}

TEST_F(NeuralDetectors, DownscaleMapsBlazeFaceKeypointsBackToo) {
  const int face = (8 * 16 + 5) * 2;
  std::vector<float> values(16, 0.0F);
  values[2] = values[3] = 32.0F;
  const std::string path =
      model("blazeface.onnx", blazeface_outputs({{face, 1.0F, values}}), {1, 128, 128, 3});
  // 256x256 at half size is 128x128: the network's own size; everything doubles on the way back.
  const cv::Mat frame(256, 256, CV_8UC3, cv::Scalar::all(0));
  const auto found =
      detect("blazeface", {{"model", path}, {"keypoints", "on"}, {"downscale", "0.5"}}, frame);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].box, cv::Rect(56, 104, 64, 64));
  ASSERT_EQ(found[0].keypoints.size(), 6U);
  EXPECT_NEAR(found[0].keypoints[0].x, 88, 1e-3);
  EXPECT_NEAR(found[0].keypoints[0].y, 136, 1e-3);
}

TEST_F(NeuralDetectors, WeightedNmsKeepsSeparateFacesApart) {
  std::vector<FaceCandidate> faces{{cv::Rect2f(0, 0, 10, 10), 0.5F, {}},
                                   {cv::Rect2f(100, 0, 10, 10), 0.9F, {}},
                                   {cv::Rect2f(1, 0, 10, 10), 0.5F, {}}};
  const auto merged = weighted_nms(faces, 0.3F);
  ASSERT_EQ(merged.size(), 2U);
  EXPECT_EQ(merged[0].box, cv::Rect2f(100, 0, 10, 10));
  EXPECT_EQ(merged[1].box, cv::Rect2f(0.5F, 0, 10, 10));
  EXPECT_EQ(merged[1].score, 0.5F);
}

TEST_F(NeuralDetectors, LetterboxMapsCornersBackExactly) {
  const Letterbox box = Letterbox::fit({640, 360}, {320, 320});
  EXPECT_EQ(box.resized, cv::Size(320, 180));
  EXPECT_EQ(box.offset, cv::Point(0, 70));
  EXPECT_EQ(box.to_frame(cv::Rect2f(0, 70, 320, 180)), cv::Rect(0, 0, 640, 360));
  // Odd sizes: 641x481 into 300x300 rounds to 300x225; the edges still map onto the frame's edges.
  const Letterbox odd = Letterbox::fit({641, 481}, {300, 300});
  EXPECT_EQ(odd.resized, cv::Size(300, 225));
  EXPECT_EQ(odd.to_frame(cv::Rect2f(0, static_cast<float>(odd.offset.y), 300, 225)),
            cv::Rect(0, 0, 641, 481));
}

// Configuration errors.

TEST_F(NeuralDetectors, MissingBlazeFaceModelSaysToRunModelsFetch) {
  const char* previous = std::getenv("LOOKOUT_MODELS_DIR");
  const std::string saved = previous ? previous : "";
  ::setenv("LOOKOUT_MODELS_DIR", dir_.c_str(), 1);
  const std::string message = config_error("blazeface", {{"model", "front"}});
  if (previous) {
    ::setenv("LOOKOUT_MODELS_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("LOOKOUT_MODELS_DIR");
  }
  EXPECT_TRUE(
      contains(message, dir_ + "/face_detection_front_128x128_barracuda.onnx' does not exist"))
      << message;
  EXPECT_TRUE(contains(message, "run models/fetch")) << message;
  EXPECT_TRUE(contains(message, "stage 'detect'")) << message;
}

TEST_F(NeuralDetectors, CorruptModelIsAConfigErrorNamingTheFile) {
  const std::string text = write_text("corrupt.onnx", "this is not an ONNX model at all\n");
  // A real model cut in half: its protobuf ends in the middle of a field.
  const std::string whole = model("whole.onnx", {yolo_v5_output()});
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = write_text("cut.onnx", bytes.substr(0, bytes.size() / 2));
  for (const std::string& type :
       {std::string("yolo"), std::string("ssd"), std::string("blazeface")}) {
    for (const std::string& path : {text, cut}) {
      const std::string message = config_error(type, {{"model", path}});
      EXPECT_TRUE(contains(message, "model '" + path + "' is not a valid ONNX model")) << message;
      EXPECT_TRUE(contains(message, "stage 'detect'")) << message;
    }
  }
}

TEST_F(NeuralDetectors, MissingModelFileIsAConfigErrorNamingIt) {
  const std::string path = dir_ + "/nowhere.onnx";
  const std::string message = config_error("yolo", {{"model", path}});
  EXPECT_TRUE(contains(message, "yolo model '" + path + "' does not exist")) << message;
  EXPECT_TRUE(contains(config_error("ssd", {}), "option 'model' is required"));
}

TEST_F(NeuralDetectors, YoloModelWithAnotherLayoutNamesTheExpectedLayoutAndTheShapesFound) {
  const std::string path =
      model("flat.onnx", {{"logits", {1, 3, 4, 5}, std::vector<float>(60, 0.0F)}});
  const std::string message = config_error("yolo", {{"model", path}, {"input_size", "320"}});
  EXPECT_TRUE(contains(message, "yolo model '" + path + "' does not have the expected layout"))
      << message;
  EXPECT_TRUE(contains(message, "1 x N x (5+C) (v5")) << message;
  EXPECT_TRUE(contains(message, "1 x (4+C) x N (v8")) << message;
  EXPECT_TRUE(contains(message, "found outputs: logits 1x3x4x5")) << message;
}

TEST_F(NeuralDetectors, YoloLabelsThatDoNotMatchTheClassCountAreRejected) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  const std::string two = write_text("two.txt", "person\ncar\n");
  const std::string message = config_error(
      "yolo", {{"model", path}, {"labels", two}, {"input_size", "320"}, {"layout", "v5"}});
  EXPECT_TRUE(
      contains(message, "the labels file has 2 classes but output 'output0' (1x10x8, v5) has 3"))
      << message;
}

TEST_F(NeuralDetectors, SsdModelWithAnotherLayoutNamesTheExpectedLayoutAndTheShapesFound) {
  const std::string path = model("yolo_as_ssd.onnx", {yolo_v5_output()});
  const std::string message = config_error("ssd", {{"model", path}, {"input_size", "320"}});
  EXPECT_TRUE(contains(message, "ssd model '" + path + "' does not have the expected layout"))
      << message;
  EXPECT_TRUE(contains(message, "1 x 1 x N x 7 (detection_output)")) << message;
  EXPECT_TRUE(contains(message, "1 x N x 4 boxes and 1 x N x C scores")) << message;
  EXPECT_TRUE(contains(message, "found outputs: output0 1x10x8")) << message;
}

TEST_F(NeuralDetectors, BlazeFaceModelWithAnotherLayoutNamesTheExpectedOutputs) {
  const std::string path = model("yolo_as_face.onnx", {yolo_v5_output()}, {1, 128, 128, 3});
  const std::string message = config_error("blazeface", {{"model", path}});
  EXPECT_TRUE(contains(message, "blazeface model '" + path + "' does not have BlazeFace's layout"))
      << message;
  EXPECT_TRUE(contains(message, "1x512x1, 1x384x1, 1x512x16 and 1x384x16")) << message;
  EXPECT_TRUE(contains(message, "on 1x128x128x3 it gives output0 1x10x8")) << message;
  EXPECT_TRUE(contains(message, "it does not run on 1x256x256x3")) << message;
}

TEST_F(NeuralDetectors, BadOptionValuesNameTheKey) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  const std::vector<std::pair<std::string, Values>> cases{
      {"yolo", {{"model", path}, {"layout", "v7"}}},
      {"yolo", {{"model", path}, {"score_threshold", "1.5"}}},
      {"yolo", {{"model", path}, {"input_size", "8"}}},
      {"yolo", {{"model", path}, {"input_size", "320"}, {"labels", labels_}, {"classes", "persn"}}},
      {"yolo", {{"model", path}, {"input_size", "320"}, {"classes", "7"}}},
      {"ssd", {{"model", path}, {"layout", "yolo"}}},
      {"blazeface", {{"model", "front"}, {"nms_threshold", "-1"}}},
      {"blazeface", {{"keypoints", "maybe"}}},
  };
  for (const auto& [type, values] : cases) {
    const std::string message = config_error(type, values);
    EXPECT_TRUE(contains(
        message, "option '" + values.back().first + "' has value '" + values.back().second + "'"))
        << type << " " << values.back().first << ": " << message;
  }
  EXPECT_TRUE(contains(
      config_error(
          "yolo",
          {{"model", path}, {"input_size", "320"}, {"labels", labels_}, {"classes", "persn"}}),
      "did you mean 'person'?"));
}

TEST_F(NeuralDetectors, UnknownOptionIsReportedBeforeTheModelIsLoaded) {
  const std::string message = config_error("blazeface", {{"modle", "front"}});
  EXPECT_TRUE(contains(message, "unknown option 'modle'; did you mean 'model'?")) << message;
}

TEST_F(NeuralDetectors, UnreadableLabelsFileIsAConfigErrorNamingIt) {
  const std::string path = model("v5.onnx", {yolo_v5_output()});
  const std::string labels = dir_ + "/no-labels.txt";
  const std::string message = config_error("yolo", {{"model", path}, {"labels", labels}});
  EXPECT_TRUE(contains(message, "labels file '" + labels + "' cannot be read")) << message;
}

TEST_F(NeuralDetectors, InstancesOfOneFactoryAreIndependent) {
  const std::string path = model("v8.onnx", {yolo_v8_output()});
  const DetectorFactory factory = make_detector_factory(
      spec("yolo", {{"model", path}, {"labels", labels_}, {"input_size", "320"}}));
  auto first = factory();
  auto second = factory();
  const auto expected = first->detect(wide_frame());
  first.reset();
  EXPECT_EQ(second->detect(wide_frame()), expected);
  expect_detections(expected, kYoloExpected);
}

}  // namespace
}  // namespace lookout
