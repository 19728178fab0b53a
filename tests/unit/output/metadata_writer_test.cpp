#include "lookout/output/metadata_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lookout/core/error.h"
#include "support/media.h"

namespace lookout {
namespace {

using nlohmann::json;

Frame make_frame(std::int64_t seq, std::int64_t pts_ns) {
  Frame frame;
  frame.stream = 0;
  frame.seq = seq;
  frame.pts_ns = pts_ns;
  return frame;
}

Detection person(int x, int y, double score) {
  Detection detection;
  detection.box = cv::Rect(x, y, 64, 128);
  detection.label = "person";
  detection.score = score;
  return detection;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(MetadataLine, WritesFieldsInDocumentedOrder) {
  Frame frame = make_frame(12, 480'000'000);
  frame.stream = 1;
  frame.detections.push_back(person(10, 20, 1.25));
  EXPECT_EQ(metadata_line(frame),
            R"({"stream":1,"seq":12,"pts":0.48,"status":"ok","detections":[)"
            R"({"label":"person","score":1.25,"box":{"x":10,"y":20,"w":64,"h":128}}]})");
}

TEST(MetadataLine, WritesNullPtsWhenTimestampIsUnknown) {
  const json line = json::parse(metadata_line(make_frame(3, -1)));
  ASSERT_TRUE(line.contains("pts"));
  EXPECT_TRUE(line["pts"].is_null());
  EXPECT_EQ(line["seq"], 3);
}

TEST(MetadataLine, WritesPtsInSecondsAsNumber) {
  const json line = json::parse(metadata_line(make_frame(0, 1'500'000'000)));
  ASSERT_TRUE(line["pts"].is_number());
  EXPECT_DOUBLE_EQ(line["pts"].get<double>(), 1.5);
}

TEST(MetadataLine, WritesEmptyDetectionListForFrameWithoutDetections) {
  const json line = json::parse(metadata_line(make_frame(0, 0)));
  ASSERT_TRUE(line["detections"].is_array());
  EXPECT_TRUE(line["detections"].empty());
}

TEST(MetadataLine, MarksDroppedFrameWithoutError) {
  Frame frame = make_frame(5, -1);
  frame.status = FrameStatus::kDropped;
  const json line = json::parse(metadata_line(frame));
  EXPECT_EQ(line["status"], "dropped");
  EXPECT_FALSE(line.contains("error"));
}

TEST(MetadataLine, CarriesErrorOfFailedFrame) {
  Frame frame = make_frame(6, 240'000'000);
  frame.fail("detect", "out of memory");
  const json line = json::parse(metadata_line(frame));
  EXPECT_EQ(line["status"], "failed");
  EXPECT_EQ(line["error"], "detect: out of memory");
}

TEST(MetadataLine, IncludesTrackIdAndTextOnlyWhenSet) {
  Frame frame = make_frame(0, 0);
  frame.detections.push_back(person(1, 2, 0.5));
  Detection code = person(3, 4, 1.0);
  code.label = "qr";
  code.track_id = 42;
  code.text = "https://example.org";
  frame.detections.push_back(code);

  const json line = json::parse(metadata_line(frame));
  ASSERT_EQ(line["detections"].size(), 2u);
  const json& plain = line["detections"][0];
  EXPECT_FALSE(plain.contains("track_id"));
  EXPECT_FALSE(plain.contains("text"));
  EXPECT_DOUBLE_EQ(plain["score"].get<double>(), 0.5);
  const json& tracked = line["detections"][1];
  EXPECT_EQ(tracked["track_id"], 42);
  EXPECT_EQ(tracked["text"], "https://example.org");
  EXPECT_EQ(tracked["box"], json({{"x", 3}, {"y", 4}, {"w", 64}, {"h", 128}}));
}

TEST(MetadataWriter, WritesOneLinePerFrameInOrder) {
  const std::string path = testing::make_temp_dir("metadata") + "/out.jsonl";
  MetadataWriter writer(path);
  for (std::int64_t seq = 0; seq < 5; ++seq) {
    Frame frame = make_frame(seq, seq * 40'000'000);
    if (seq == 2) frame.status = FrameStatus::kDropped;
    writer.process(frame);
  }
  writer.finish();

  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 5u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json line = json::parse(lines[i]);
    EXPECT_EQ(line["seq"], static_cast<std::int64_t>(i));
    EXPECT_EQ(line["status"], i == 2 ? "dropped" : "ok");
  }
}

TEST(MetadataWriter, TruncatesExistingFile) {
  const std::string path = testing::make_temp_dir("metadata") + "/out.jsonl";
  {
    std::ofstream old(path);
    old << "old line 1\nold line 2\nold line 3\n";
  }
  MetadataWriter writer(path);
  Frame frame = make_frame(0, 0);
  writer.process(frame);
  writer.finish();
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["seq"], 0);
}

TEST(MetadataWriter, FinishTwiceIsHarmless) {
  const std::string path = testing::make_temp_dir("metadata") + "/out.jsonl";
  MetadataWriter writer(path);
  writer.finish();
  EXPECT_NO_THROW(writer.finish());
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(MetadataWriter, RejectsPathInMissingFolderWithConfigError) {
  const std::string path = testing::make_temp_dir("metadata") + "/missing/out.jsonl";
  try {
    MetadataWriter writer(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("--metadata"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace lookout
