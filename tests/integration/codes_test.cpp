// The `codes` detector on a real H.264 clip: six codes (two QR codes, DataMatrix, EAN-13, Code128,
// Aztec) drifting on a noisy, cluttered background, encoded by lookout's own VideoWriter so that
// the codes carry real compression artefacts. Read back with OpenCV and fed to the detector, and
// run through the `lookout` command with the shipped pipeline, whose metadata is checked frame by
// frame against where each code was drawn and what it says.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "lookout/detect/detector.h"
#include "lookout/output/video_writer.h"
#include "support/code_scene.h"
#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

using testing::iou;
using testing::PlacedCode;

// A code counts as read when label and text match and the box overlaps where it was drawn by at
// least this much. Compression blurs the edges by a pixel or two; a box on the wrong code or
// a wrong place overlaps far less.
constexpr double kMinIou = 0.7;
// Share of the frames in which every single code must be read.
constexpr double kMinShare = 0.95;

std::string pipeline(const std::string& name) {
  return std::string(LOOKOUT_SOURCE_DIR) + "/pipelines/" + name;
}

struct Found {
  std::string label;
  std::string text;
  cv::Rect box;
};

// Per code (label and text): in how many frames it was read. Every detection that matches no drawn
// code is a misread and fails the test.
using ReadCounts = std::map<std::string, int>;

std::string key_of(const std::string& label, const std::string& text) {
  return label + " '" + text + "'";
}

void tally(const std::vector<PlacedCode>& drawn, const std::vector<Found>& found, int frame,
           ReadCounts& counts) {
  for (const auto& code : drawn) {
    int& count = counts[key_of(code.label, code.text)];
    for (const auto& detection : found) {
      if (detection.label == code.label && detection.text == code.text &&
          iou(detection.box, code.box) >= kMinIou) {
        ++count;
        break;
      }
    }
  }
  for (const auto& detection : found) {
    bool drawn_here = false;
    for (const auto& code : drawn) {
      drawn_here = drawn_here || (detection.label == code.label && detection.text == code.text);
    }
    EXPECT_TRUE(drawn_here) << "frame " << frame << ": misread "
                            << key_of(detection.label, detection.text) << " at " << detection.box;
  }
}

void expect_nearly_every_frame(const ReadCounts& counts, int frames) {
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [code, count] : counts) {
    EXPECT_GE(count, kMinShare * frames)
        << code << " read in " << count << " of " << frames << " frames";
  }
}

class CodesClip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    configure_opencv_threads();
    frames_ = testing::short_run() ? 20 : 40;
    dir_ = testing::make_temp_dir("codes");
    clip_ = dir_ + "/codes.mp4";
    VideoWriterOptions options;
    options.path = clip_;
    options.width = testing::kSceneWidth;
    options.height = testing::kSceneHeight;
    options.fps_num = testing::kSceneFps;
    options.fps_den = 1;
    VideoWriter writer(options);
    const std::int64_t frame_ns = 1'000'000'000 / testing::kSceneFps;
    for (int index = 0; index < frames_; ++index) {
      Frame frame;
      frame.seq = index;
      frame.pts_ns = index * frame_ns;
      frame.duration_ns = frame_ns;
      frame.image = testing::code_scene_frame(index).image;
      writer.process(frame);
    }
    writer.finish();
  }

  static std::vector<PlacedCode> drawn(int index) { return testing::code_scene_frame(index).codes; }

  static inline int frames_ = 0;
  static inline std::string dir_;
  static inline std::string clip_;
};

TEST_F(CodesClip, IsARealH264FileWhoseFramesDifferFromTheDrawings) {
  cv::VideoCapture capture(clip_);
  ASSERT_TRUE(capture.isOpened()) << clip_;
  EXPECT_EQ(capture.get(cv::CAP_PROP_FOURCC), cv::VideoWriter::fourcc('a', 'v', 'c', '1'));
  cv::Mat decoded;
  int count = 0;
  double difference = 0.0;
  while (capture.read(decoded)) {
    difference += cv::norm(decoded, testing::code_scene_frame(count).image, cv::NORM_L1) /
                  static_cast<double>(decoded.total() * decoded.channels());
    ++count;
  }
  EXPECT_EQ(count, frames_);
  // The encoder changed the pixels (a lossless copy would make the test below too easy), but not
  // beyond recognition: on average a few gray levels per channel.
  const double mean = difference / std::max(count, 1);
  EXPECT_GT(mean, 1.0);
  EXPECT_LT(mean, 20.0);
}

TEST_F(CodesClip, DetectorReadsEveryCodeInNearlyEveryFrame) {
  cv::VideoCapture capture(clip_);
  ASSERT_TRUE(capture.isOpened()) << clip_;
  DetectorSpec spec{"codes", Options("test")};
  auto detector = make_detector_factory(std::move(spec))();

  ReadCounts counts;
  cv::Mat image;
  int index = 0;
  for (; capture.read(image); ++index) {
    std::vector<Found> found;
    for (const auto& detection : detector->detect(image)) {
      EXPECT_EQ(detection.score, 1.0);
      ASSERT_TRUE(detection.text.has_value());
      found.push_back({detection.label, *detection.text, detection.box});
    }
    tally(drawn(index), found, index, counts);
  }
  ASSERT_EQ(index, frames_);
  expect_nearly_every_frame(counts, frames_);
}

TEST_F(CodesClip, CommandWritesEveryCodeWithItsTextToTheMetadata) {
  const std::string video = dir_ + "/run.annotated.mp4";
  const std::string metadata = dir_ + "/run.detections.jsonl";
  const auto result =
      testing::run_lookout({"run", pipeline("codes.yaml"), "--input", clip_, "--output", video,
                            "--metadata", metadata, "--workers", "2"},
                           std::chrono::seconds(300));
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const auto lines = testing::read_jsonl(metadata);
  ASSERT_EQ(static_cast<int>(lines.size()), frames_);
  ReadCounts counts;
  for (int index = 0; index < frames_; ++index) {
    const auto& line = lines[static_cast<std::size_t>(index)];
    ASSERT_EQ(line.at("seq").get<int>(), index);
    ASSERT_EQ(line.at("status").get<std::string>(), "ok") << line.dump();
    std::vector<Found> found;
    for (const auto& detection : line.at("detections")) {
      EXPECT_EQ(detection.at("score").get<double>(), 1.0);
      ASSERT_TRUE(detection.contains("text")) << detection.dump();
      const auto& box = detection.at("box");
      found.push_back({detection.at("label").get<std::string>(),
                       detection.at("text").get<std::string>(),
                       cv::Rect(box.at("x").get<int>(), box.at("y").get<int>(),
                                box.at("w").get<int>(), box.at("h").get<int>())});
    }
    tally(drawn(index), found, index, counts);
  }
  expect_nearly_every_frame(counts, frames_);
  EXPECT_EQ(testing::count_frames(video), frames_);
}

TEST(CodesCommand, ShippedCodesPipelineValidates) {
  const auto result = testing::run_lookout({"validate", pipeline("codes.yaml")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find(": ok"), std::string::npos) << result.out;
}

TEST(CodesCommand, UnknownFormatIsAUsageErrorThatSuggestsAndListsTheFormats) {
  const auto result = testing::run_lookout({"run", "--input", "test:ball", "--detector", "codes",
                                            "--opt", "formats=QR,EAN-14", "--frames", "1"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("option 'formats' has value 'QR,EAN-14'"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("did you mean 'EAN-13'?"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("valid: all, linear, matrix, Aztec"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace lookout
