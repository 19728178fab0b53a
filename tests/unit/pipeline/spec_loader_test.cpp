#include "lookout/pipeline/spec_loader.h"

#include <gtest/gtest.h>

#include "lookout/core/error.h"
#include "support/errors.h"

namespace lookout {
namespace {

using testing::config_error;

TEST(SpecLoader, ReadsEveryTopLevelKey) {
  const PipelineSpec spec = parse_pipeline(R"(
input: {uri: "rtsp://cam/stream"}
workers: 3
max_in_flight: 12
max_frames: 100
stages:
  - detector: hog
    win_stride: [16, 16]
    scale: 1.1
  - detector: cascade
    min_size: 40x40
output:
  video: out/{stem}.mkv
  metadata: out/{stem}.jsonl
  annotate: false
  speed_preset: ultrafast
  bitrate: 2000
)", "test.yaml");
  EXPECT_TRUE(spec.problems.empty());
  EXPECT_EQ(spec.input, "rtsp://cam/stream");
  EXPECT_EQ(spec.workers, 3u);
  EXPECT_EQ(spec.max_in_flight, 12u);
  EXPECT_EQ(spec.max_frames, 100);
  ASSERT_EQ(spec.stages.size(), 2u);
  EXPECT_EQ(spec.stages[0].type, "hog");
  Options hog = spec.stages[0].options;
  EXPECT_EQ(hog.get_size("win_stride", {8, 8}, 8, 64), cv::Size(16, 16));
  EXPECT_EQ(spec.stages[1].type, "cascade");
  EXPECT_EQ(spec.video_output, "out/{stem}.mkv");
  EXPECT_EQ(spec.metadata_output, "out/{stem}.jsonl");
  EXPECT_FALSE(spec.annotate);
  const ValidatedPipeline validated = validate_pipeline(spec);
  EXPECT_EQ(validated.stages.size(), 2u);
  EXPECT_EQ(validated.speed_preset, "ultrafast");
  EXPECT_EQ(validated.bitrate_kbps, 2000);
}

TEST(SpecLoader, InputMayBeAPlainString) {
  EXPECT_EQ(parse_pipeline("input: a.mp4\n", "t.yaml").input, "a.mp4");
}

TEST(SpecLoader, InputDecoderThreadsDefaultToOneAndAreChecked) {
  const auto validated = [](const std::string& input) {
    return validate_pipeline(parse_pipeline(input + "stages:\n  - detector: hog\n", "d.yaml"));
  };
  EXPECT_EQ(validated("input: a.mp4\n").source.decoder_threads, 1);
  EXPECT_EQ(validated("input:\n  uri: a.mp4\n  decoder_threads: 0\n").source.decoder_threads, 0);
  EXPECT_EQ(validated("input:\n  uri: a.mp4\n  decoder_threads: 8\n").source.decoder_threads, 8);
  const std::string message =
      config_error([&] { validated("input:\n  uri: a.mp4\n  decoder_threads: 65\n"); });
  EXPECT_NE(message.find("d.yaml:3:20"), std::string::npos) << message;
  EXPECT_NE(message.find("decoder_threads"), std::string::npos) << message;
}

TEST(SpecLoader, SyntaxErrorsNameFileLineAndColumn) {
  const std::string message = config_error([] { parse_pipeline("input: a\nstages: [\n", "bad.yaml"); });
  EXPECT_NE(message.find("bad.yaml:"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid YAML"), std::string::npos) << message;
}

TEST(SpecLoader, NonMappingIsRejected) {
  EXPECT_NE(config_error([] { parse_pipeline("- a\n- b\n", "list.yaml"); }).find("list.yaml: a pipeline file is a mapping"),
            std::string::npos);
}

TEST(SpecLoader, ValidateReportsEveryProblemAtOnceWithPositions) {
  const PipelineSpec spec = parse_pipeline(R"(input: a.mp4
workres: 2
max_frames: lots
stages:
  - detector: hog
    sclae: 1.1
  - detector: yoloo
  - {}
output:
  vidoe: x.mp4
  annotate: maybe
  speed_preset: warp
)", "p.yaml");
  const std::string message = config_error([&] { validate_pipeline(spec); });
  for (const char* expected :
       {"p.yaml:2:1: unknown key 'workres' in the pipeline; did you mean 'workers'?",
        "p.yaml:3:13: 'max_frames' must be a whole number", "p.yaml:6:12: stage 1 (hog): unknown option 'sclae'",
        "did you mean 'scale'?", "unknown detector 'yoloo'", "p.yaml:8:5: stage 3 has no 'detector' key",
        "p.yaml:10:3: unknown key 'vidoe' in output; did you mean 'video'?",
        "p.yaml:11:13: 'output.annotate' must be true or false", "speed_preset 'warp'"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << message;
  }
}

TEST(SpecLoader, ValidateReportsTheProblemsAfterAKeyHoldingANulByte) {
  // "\0" in a double-quoted key is a NUL byte. Quoted as it is, it ended what() there and hid
  // every problem after it.
  const PipelineSpec spec = parse_pipeline(
      "input: a.mp4\n\"wor\\0kers\": 2\nstages: [{detector: hog}]\nvidoe: x.mp4\n", "nul.yaml");
  const std::string message = config_error([&] { validate_pipeline(spec); });
  EXPECT_NE(message.find("nul.yaml:2:1: unknown key 'wor\\0kers'"), std::string::npos) << message;
  EXPECT_NE(message.find("nul.yaml:4:1: unknown key 'vidoe'"), std::string::npos) << message;
}

TEST(SpecLoader, ValidateNeedsAnInputAndAStage) {
  const std::string message = config_error([] { validate_pipeline(parse_pipeline("workers: 1\n", "e.yaml")); });
  EXPECT_NE(message.find("no input"), std::string::npos) << message;
  EXPECT_NE(message.find("no stages"), std::string::npos) << message;
}

TEST(SpecLoader, MissingFileIsAConfigErrorNamingIt) {
  EXPECT_NE(config_error([] { load_pipeline_file("/nonexistent/p.yaml"); }).find("/nonexistent/p.yaml"),
            std::string::npos);
}

TEST(PipelineSpec, ExpandsStemFromPathsAndUris) {
  EXPECT_EQ(expand_output_path("out/{stem}.mp4", "samples/data/vtest.avi"), "out/vtest.mp4");
  EXPECT_EQ(expand_output_path("out/{stem}-{stem}.jsonl", "/a/b.c.mkv"), "out/b.c-b.c.jsonl");
  EXPECT_EQ(expand_output_path("{stem}.mp4", "rtsp://host:554/live/cam1?token=x"), "cam1.mp4");
  EXPECT_EQ(expand_output_path("fixed.mp4", "a.avi"), "fixed.mp4");
}

TEST(PipelineSpec, ResolvesZeroWorkersToTheCoreCount) {
  EXPECT_GE(resolve_workers(0), 1u);
  EXPECT_EQ(resolve_workers(3), 3u);
}

}  // namespace
}  // namespace lookout
