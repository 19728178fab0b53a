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

TEST(MetadataLine, NamesTheCauseOfADrop) {
  Frame frame = make_frame(5, 200'000'000);
  frame.drop(DropCause::kTooOld);
  const json line = json::parse(metadata_line(frame));
  EXPECT_EQ(line["status"], "dropped");
  EXPECT_EQ(line["cause"], "too_old");
}

TEST(MetadataLine, GivesEachFrameOfARunOfDropsItsOwnSeq) {
  Frame frame = make_frame(10, 400'000'000);
  frame.drop(DropCause::kPipelineFull);
  frame.span = 3;
  const json first = json::parse(metadata_line(frame, 0));
  const json third = json::parse(metadata_line(frame, 2));
  EXPECT_EQ(first["seq"], 10);
  EXPECT_EQ(third["seq"], 12);
  EXPECT_EQ(third["cause"], "pipeline_full");
  EXPECT_TRUE(first["pts"].is_number());
  EXPECT_TRUE(third["pts"].is_null()) << "only the run's first frame has a known time";
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

TEST(MetadataLine, WritesKeypointsAsPairsAfterTheBoxOnlyWhenPresent) {
  Frame frame = make_frame(0, 0);
  frame.detections.push_back(person(1, 2, 0.5));
  Detection face = person(3, 4, 0.9);
  face.label = "face";
  face.keypoints = {{10.25F, 20.5F}, {30.0F, 40.123F}};
  frame.detections.push_back(face);

  const std::string text = metadata_line(frame);
  const json line = json::parse(text);
  EXPECT_FALSE(line["detections"][0].contains("keypoints"));
  const json& points = line["detections"][1]["keypoints"];
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0], json({10.25, 20.5}));
  // Hundredths of a pixel.
  EXPECT_EQ(points[1], json({30.0, 40.12}));
  EXPECT_NE(text.find("\"h\":128},\"keypoints\":[[10.25,20.5],[30.0,40.12]]"), std::string::npos) << text;
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

StreamEvent gap_event(std::chrono::milliseconds since_epoch, std::chrono::milliseconds duration,
                      int attempts, std::string reason) {
  StreamEvent event;
  event.kind = StreamEvent::Kind::kGap;
  event.start = std::chrono::system_clock::time_point(since_epoch);
  event.duration = duration;
  event.attempts = attempts;
  event.reason = std::move(reason);
  return event;
}

TEST(MetadataLine, WritesGapEventFieldsInDocumentedOrder) {
  Frame frame = make_frame(57, 0);
  frame.stream = 2;
  // 2026-11-26T01:02:03.456Z
  const StreamEvent event = gap_event(std::chrono::milliseconds(1795654923456),
                                      std::chrono::milliseconds(3250), 2, "no frame for 10 s");
  EXPECT_EQ(event_line(frame, event),
            R"({"stream":2,"event":"gap","seq":57,"start":"2026-11-26T01:02:03.456Z",)"
            R"("duration":3.25,"attempts":2,"reason":"no frame for 10 s"})");
}

TEST(MetadataLine, GapStartKeepsLeadingZerosOfMilliseconds) {
  const StreamEvent event =
      gap_event(std::chrono::milliseconds(7), std::chrono::milliseconds(0), 1, "x");
  EXPECT_EQ(json::parse(event_line(make_frame(0, 0), event))["start"], "1970-01-01T00:00:00.007Z");
}

TEST(MetadataWriter, WritesEachEventOnItsOwnLineBeforeItsFrame) {
  const std::string path = testing::make_temp_dir("metadata") + "/out.jsonl";
  MetadataWriter writer(path);
  for (std::int64_t seq = 0; seq < 4; ++seq) {
    Frame frame = make_frame(seq, seq * 40'000'000);
    if (seq == 2) {
      frame.events.push_back(gap_event(std::chrono::milliseconds(1000),
                                       std::chrono::milliseconds(1500), 3, "the stream ended"));
      frame.events.push_back(gap_event(std::chrono::milliseconds(5000),
                                       std::chrono::milliseconds(250), 1, "no frame for 1 s"));
    }
    writer.process(frame);
  }
  writer.finish();

  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 6u);
  const std::vector<bool> is_event{false, false, true, true, false, false};
  const std::vector<std::int64_t> seqs{0, 1, 2, 2, 2, 3};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json line = json::parse(lines[i]);
    EXPECT_EQ(line.contains("event"), is_event[i]) << lines[i];
    EXPECT_EQ(line.contains("status"), !is_event[i]) << lines[i];
    EXPECT_EQ(line["seq"], seqs[i]) << lines[i];
  }
  EXPECT_EQ(json::parse(lines[2])["reason"], "the stream ended");
  EXPECT_EQ(json::parse(lines[2])["attempts"], 3);
  EXPECT_DOUBLE_EQ(json::parse(lines[2])["duration"].get<double>(), 1.5);
  EXPECT_EQ(json::parse(lines[3])["reason"], "no frame for 1 s");
}

TEST(MetadataWriter, AnEventInsideARunOfDropsStaysBeforeItsOwnFrame) {
  const std::string path = testing::make_temp_dir("metadata") + "/out.jsonl";
  MetadataWriter writer(path);
  Frame run = make_frame(10, 400'000'000);
  run.drop(DropCause::kPipelineFull);
  run.span = 3;
  StreamEvent event = gap_event(std::chrono::milliseconds(1000), std::chrono::milliseconds(800), 1, "x");
  event.seq = 11;  // came with the run's second frame
  run.events.push_back(event);
  writer.process(run);
  writer.finish();

  const std::vector<std::string> lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(json::parse(lines[0])["seq"], 10);
  EXPECT_TRUE(json::parse(lines[1]).contains("event"));
  EXPECT_EQ(json::parse(lines[1])["seq"], 11);
  EXPECT_EQ(json::parse(lines[2])["seq"], 11);
  EXPECT_EQ(json::parse(lines[3])["seq"], 12);
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
