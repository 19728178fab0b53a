// The neural detectors through the `lookout` command: a BlazeFace run writes keypoints to the
// metadata, and a model that is missing, corrupt or of another layout stops the run before it
// starts with exit code 2 and one message naming the file.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/jsonl.h"
#include "support/media.h"
#include "support/onnx_model.h"
#include "support/process.h"

namespace lookout {
namespace {

using testing::ProcessResult;

constexpr auto kTimeout = std::chrono::seconds(120);

class NeuralCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("neural-cli"); }

  ProcessResult run(const std::string& detector, const std::vector<std::string>& opts,
                    int frames = 5) {
    std::vector<std::string> args{"run",
                                  "--input",
                                  testing::sample_path("Megamind.avi"),
                                  "--detector",
                                  detector,
                                  "--output",
                                  dir_ + "/out.mp4",
                                  "--metadata",
                                  dir_ + "/out.jsonl",
                                  "--frames",
                                  std::to_string(frames)};
    for (const auto& opt : opts) {
      args.push_back("--opt");
      args.push_back(opt);
    }
    return testing::run_lookout(args, kTimeout);
  }

  std::string dir_;
};

void expect_config_error(const ProcessResult& result, const std::vector<std::string>& parts) {
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.signal, 0) << "crashed";
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("lookout: error: ", 0), 0U) << result.err;
  for (const auto& part : parts) {
    EXPECT_NE(result.err.find(part), std::string::npos) << "message lacks '" << part << "':\n"
                                                        << result.err;
  }
  // One message, not OpenCV's trace as well.
  EXPECT_EQ(result.err.find("[ERROR"), std::string::npos) << result.err;
}

TEST_F(NeuralCli, BlazeFaceRunWritesFacesWithSixKeypointsEach) {
  const auto result = run("blazeface", {"keypoints=true"}, 10);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = testing::read_jsonl(dir_ + "/out.jsonl");
  int faces = 0;
  for (const auto& line : lines) {
    if (!line.contains("detections")) continue;
    for (const auto& detection : line["detections"]) {
      EXPECT_EQ(detection["label"], "face");
      ASSERT_TRUE(detection.contains("keypoints")) << detection.dump();
      ASSERT_EQ(detection["keypoints"].size(), 6U) << detection.dump();
      for (const auto& point : detection["keypoints"]) EXPECT_EQ(point.size(), 2U);
      ++faces;
    }
  }
  EXPECT_GE(faces, 8) << "faces in 10 frames";
  EXPECT_NE(result.out.find("detect (blazeface)"), std::string::npos) << result.out;
}

TEST_F(NeuralCli, BlazeFaceWithoutKeypointsWritesNone) {
  const auto result = run("blazeface", {}, 3);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  int faces = 0;
  for (const auto& line : testing::read_jsonl(dir_ + "/out.jsonl")) {
    if (!line.contains("detections")) continue;
    for (const auto& detection : line["detections"]) {
      EXPECT_FALSE(detection.contains("keypoints")) << detection.dump();
      ++faces;
    }
  }
  EXPECT_GT(faces, 0);
}

TEST_F(NeuralCli, CorruptModelExitsWithTwoNamingTheFile) {
  const std::string path = dir_ + "/corrupt.onnx";
  std::ofstream(path, std::ios::binary) << "\x08\x07garbage that is no protobuf\xff\xff\xff";
  expect_config_error(run("yolo", {"model=" + path}),
                      {"yolo model '" + path + "' is not a valid ONNX model"});
  expect_config_error(run("blazeface", {"model=" + path}),
                      {"blazeface model '" + path + "' is not a valid ONNX model"});
}

TEST_F(NeuralCli, ModelOfAnotherLayoutExitsWithTwoNamingTheLayoutAndShapes) {
  const std::string path = dir_ + "/other.onnx";
  testing::write_onnx_model(path, {1, 3, 320, 320},
                            {{"scores", {1, 10}, std::vector<float>(10, 0.0F)}});
  expect_config_error(run("yolo", {"model=" + path, "input_size=320"}),
                      {"yolo model '" + path + "' does not have the expected layout",
                       "1 x N x (5+C)", "found outputs: scores 1x10"});
  expect_config_error(run("ssd", {"model=" + path, "input_size=320"}),
                      {"ssd model '" + path + "' does not have the expected layout",
                       "1 x 1 x N x 7", "found outputs: scores 1x10"});
}

TEST_F(NeuralCli, MissingBlazeFaceModelsExitWithTwoSayingToFetchThem) {
  ::setenv("LOOKOUT_MODELS_DIR", dir_.c_str(), 1);
  const auto result = run("blazeface", {});
  ::unsetenv("LOOKOUT_MODELS_DIR");
  expect_config_error(result, {dir_ + "/face_detection_back_256x256_barracuda.onnx' does not exist",
                               "run models/fetch"});
}

}  // namespace
}  // namespace lookout
