// Live inputs end to end: the live test pattern, a real RTSP server on loopback (with and without
// credentials), raw GStreamer descriptions, a file replayed in real time, a missing camera, and
// the input options in pipeline files. Every run of the command has a timeout, so a hang fails.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/pipeline/spec_loader.h"
#include "support/errors.h"
#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"
#include "support/rtsp_server.h"

namespace lookout {
namespace {

using testing::ProcessResult;
using testing::RtspServer;
using testing::run_lookout;

constexpr auto kTimeout = std::chrono::seconds(120);

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<Frame> read_frames(Source& source, std::size_t limit, Source::Read& last,
                               std::string& error) {
  std::vector<Frame> frames;
  last = Source::Read::kFrame;
  while (frames.size() < limit) {
    Frame frame;
    last = source.read(frame, error);
    if (last != Source::Read::kFrame) break;
    frames.push_back(std::move(frame));
  }
  return frames;
}

// The server's live 320x240 ball at 10 fps, optionally behind basic authentication.
RtspServer::Settings ball(const std::string& user = {}, const std::string& password = {}) {
  RtspServer::Settings settings;
  settings.launch =
      "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 "
      "pt=96 )";
  settings.user = user;
  settings.password = password;
  return settings;
}

void expect_increasing_pts(const std::vector<Frame>& frames) {
  std::int64_t previous = -1;
  for (const Frame& frame : frames) {
    EXPECT_GT(frame.pts_ns, previous);
    previous = frame.pts_ns;
  }
}

class LiveInput : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("live"); }

  // `lookout run` with the hog detector (downscaled, to keep up) and both outputs in dir_.
  // These runs check that every frame captured reaches the outputs, so they block rather than
  // drop when a slow (sanitizer) build falls behind; dropping is live_overload_test's subject.
  ProcessResult run(const std::string& input, int frames, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"run",      "--input",  input,       "--detector", "hog",
                                  "--opt",    "downscale=0.5",         "--frames",
                                  std::to_string(frames), "--output",  video(),    "--metadata",
                                  metadata(), "--drop-policy", "block"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_lookout(args, kTimeout);
  }
  std::string video() const { return dir_ + "/out.mp4"; }
  std::string metadata() const { return dir_ + "/out.jsonl"; }

  std::string dir_;
};

void expect_success(const ProcessResult& result) {
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.signal, 0) << "crashed";
  EXPECT_EQ(result.exit_code, 0) << result.err << result.out;
}

// The end-to-end runs feed 320x240 at 10 fps, which even a sanitizer build keeps up with: a live
// source that outruns lookout loses frames at capture by design, and the exact counts below
// would then depend on the machine's speed.
TEST_F(LiveInput, TestPatternRunsToAnMp4AndMetadataWithExactlyTheRequestedFrames) {
  const ProcessResult result =
      run("test:ball", 30, {"--width", "320", "--height", "240", "--fps", "10"});
  expect_success(result);
  EXPECT_EQ(testing::count_frames(video()), 30);
  EXPECT_EQ(testing::read_jsonl(metadata()).size(), 30u);
}

TEST(LiveSource, TestPatternIsLiveAt640x480And25FpsWithNoLength) {
  SourceOptions options;
  options.input = "test:ball";
  auto source = open_source(options);
  const StreamInfo& info = source->info();
  EXPECT_TRUE(info.live);
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 480);
  EXPECT_EQ(info.fps_num, 25);
  EXPECT_EQ(info.fps_den, 1);
  EXPECT_EQ(info.frame_count, -1);
  EXPECT_EQ(info.duration_ns, -1);

  Source::Read last;
  std::string error;
  const std::vector<Frame> frames = read_frames(*source, 10, last, error);
  ASSERT_EQ(frames.size(), 10u) << error;
  for (const Frame& frame : frames) {
    EXPECT_EQ(frame.image.cols, 640);
    EXPECT_EQ(frame.image.rows, 480);
  }
  expect_increasing_pts(frames);
}

TEST(LiveSource, TestPatternTakesTheConfiguredSizeAndRate) {
  SourceOptions options;
  options.input = "test:smpte";
  options.width = 320;
  options.height = 240;
  options.fps = 30;
  auto source = open_source(options);
  EXPECT_TRUE(source->info().live);
  EXPECT_EQ(source->info().width, 320);
  EXPECT_EQ(source->info().height, 240);
  EXPECT_EQ(source->info().fps_num, 30);
  Source::Read last;
  std::string error;
  const std::vector<Frame> frames = read_frames(*source, 3, last, error);
  ASSERT_EQ(frames.size(), 3u) << error;
  EXPECT_EQ(frames.front().image.cols, 320);
}

TEST(LiveSource, UnknownTestPatternIsAConfigErrorNamingIt) {
  SourceOptions options;
  options.input = "test:no-such-pattern";
  const std::string message = testing::config_error([&] { open_source(options); });
  EXPECT_NE(message.find("test:no-such-pattern"), std::string::npos) << message;
  options.input = "test:ball ! fakesrc";
  EXPECT_NE(testing::config_error([&] { open_source(options); }).find("not a test pattern"),
            std::string::npos);
}

TEST(LiveSource, RealtimeFileIsReportedLiveAndDeliversEveryFrameInOrder) {
  const std::string path = testing::make_temp_dir("realtime") + "/clip.mp4";
  testing::generate_clip(path, 160, 120, 25, 25);
  SourceOptions options;
  options.input = path;
  options.realtime = true;
  auto source = open_source(options);
  EXPECT_TRUE(source->info().live);
  EXPECT_EQ(source->info().frame_count, 25);

  Source::Read last;
  std::string error;
  const std::vector<Frame> frames = read_frames(*source, 1000, last, error);
  EXPECT_EQ(last, Source::Read::kEnd) << error;
  ASSERT_EQ(frames.size(), 25u);
  EXPECT_EQ(frames.front().pts_ns, 0);
  expect_increasing_pts(frames);
}

TEST(LiveSource, FileWithoutRealtimeIsNotLive) {
  const std::string path = testing::make_temp_dir("file") + "/clip.mp4";
  testing::generate_clip(path, 160, 120, 5, 25);
  SourceOptions options;
  options.input = path;
  EXPECT_FALSE(open_source(options)->info().live);
}

TEST(LiveSource, RtspStreamIsLiveWithTheServersSizeAndRate) {
  RtspServer::Settings settings;
  settings.launch = RtspServer::kBallH264;
  RtspServer server(settings);
  server.start();
  SourceOptions options;
  options.input = server.url();
  options.transport = RtspTransport::kTcp;
  auto source = open_source(options);
  EXPECT_TRUE(source->info().live);
  EXPECT_EQ(source->info().width, 320);
  EXPECT_EQ(source->info().height, 240);
  EXPECT_EQ(source->info().fps_num, 25);
  EXPECT_EQ(source->info().frame_count, -1);
  Source::Read last;
  std::string error;
  const std::vector<Frame> frames = read_frames(*source, 5, last, error);
  ASSERT_EQ(frames.size(), 5u) << error;
  expect_increasing_pts(frames);
}

TEST_F(LiveInput, RtspStreamOverTcpRunsToAnMp4WithExactlyTheRequestedFrames) {
  RtspServer server(ball());
  server.start();
  const ProcessResult result = run(server.url(), 40, {"--transport", "tcp", "--latency", "100"});
  expect_success(result);
  EXPECT_EQ(testing::count_frames(video()), 40);
  EXPECT_EQ(testing::read_jsonl(metadata()).size(), 40u);
}

TEST_F(LiveInput, RtspCredentialsWorkAndThePasswordIsNeverShown) {
  const std::string password = "s3cret-pw";
  RtspServer server(ball("viewer", password));
  server.start();
  const ProcessResult result =
      run(server.url_with("viewer", password), 10, {"--transport", "tcp"});
  expect_success(result);
  EXPECT_EQ(testing::count_frames(video()), 10);
  EXPECT_EQ(result.out.find(password), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find(password), std::string::npos) << result.err;
  EXPECT_NE(result.out.find("rtsp://***@127.0.0.1"), std::string::npos) << result.out;
  EXPECT_EQ(video().find(password), std::string::npos);
  EXPECT_EQ(read_text(metadata()).find(password), std::string::npos);
}

TEST_F(LiveInput, RtspWrongPasswordFailsNamingTheMaskedUriOnly) {
  RtspServer server(ball("viewer", "s3cret-pw"));
  server.start();
  const ProcessResult result =
      run(server.url_with("viewer", "wrong-pw"), 10, {"--transport", "tcp"});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.signal, 0) << "crashed";
  EXPECT_TRUE(result.exit_code == 1 || result.exit_code == 2) << result.exit_code << result.err;
  EXPECT_NE(result.err.find("rtsp://***@127.0.0.1"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("wrong-pw"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("wrong-pw"), std::string::npos) << result.out;
  EXPECT_EQ(result.err.find("s3cret-pw"), std::string::npos) << result.err;
}

TEST_F(LiveInput, StoppedRtspServerIsARuntimeErrorNamingTheUri) {
  RtspServer server(ball());
  server.start();
  const std::string url = server.url();
  server.stop();
  const ProcessResult result = run(url, 10, {"--transport", "tcp"});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find(url), std::string::npos) << result.err;
  // The server serves again after a restart, so a later test can bring a stream back.
  server.start();
  SourceOptions options;
  options.input = server.url();
  options.transport = RtspTransport::kTcp;
  EXPECT_TRUE(open_source(options)->info().live);
}

TEST_F(LiveInput, RawGstreamerDescriptionRunsToItsEnd) {
  const ProcessResult result = run(
      "gst:videotestsrc num-buffers=15 ! video/x-raw,width=320,height=240,framerate=25/1", 1000);
  expect_success(result);
  EXPECT_EQ(testing::count_frames(video()), 15);
  EXPECT_EQ(testing::read_jsonl(metadata()).size(), 15u);
}

TEST(LiveSource, RawDescriptionOfALiveSourceIsReportedLive) {
  SourceOptions options;
  options.input = "gst:videotestsrc is-live=true ! video/x-raw,width=160,height=120";
  EXPECT_TRUE(open_source(options)->info().live);
  options.input = "gst:videotestsrc num-buffers=3 ! video/x-raw,width=160,height=120";
  EXPECT_FALSE(open_source(options)->info().live);
}

TEST(LiveSource, BadRawDescriptionIsAConfigError) {
  SourceOptions options;
  options.input = "gst:no-such-element-here ! video/x-raw";
  const std::string message = testing::config_error([&] { open_source(options); });
  EXPECT_NE(message.find("gst:no-such-element-here"), std::string::npos) << message;
}

TEST_F(LiveInput, MissingCameraIsAConfigErrorNamingTheDevice) {
  const ProcessResult result = run("/dev/video99", 10);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("/dev/video99"), std::string::npos) << result.err;
}

TEST(LiveInputOptions, PipelineFileInputMappingSetsEveryOption) {
  const PipelineSpec spec = parse_pipeline(
      "input:\n  uri: rtsp://cam/x\n  transport: udp\n  latency: 50\n  width: 320\n"
      "  height: 240\n  fps: 10\n  realtime: false\nstages:\n  - detector: hog\n",
      "live.yaml");
  ASSERT_TRUE(spec.problems.empty()) << spec.problems.front();
  const ValidatedPipeline validated = validate_pipeline(spec);
  EXPECT_EQ(validated.source.input, "rtsp://cam/x");
  EXPECT_EQ(validated.source.transport, RtspTransport::kUdp);
  EXPECT_EQ(validated.source.latency_ms, 50);
  EXPECT_EQ(validated.source.width, 320);
  EXPECT_EQ(validated.source.height, 240);
  EXPECT_EQ(validated.source.fps, 10);
  EXPECT_FALSE(validated.source.realtime);
}

TEST(LiveInputOptions, UnknownInputKeyIsRejectedWithItsPlaceAndASuggestion) {
  const PipelineSpec spec = parse_pipeline(
      "input:\n  uri: rtsp://cam/x\n  transprt: tcp\nstages:\n  - detector: hog\n", "live.yaml");
  ASSERT_EQ(spec.problems.size(), 1u);
  EXPECT_NE(spec.problems.front().find("live.yaml:3:3"), std::string::npos) << spec.problems.front();
  EXPECT_NE(spec.problems.front().find("did you mean 'transport'"), std::string::npos)
      << spec.problems.front();
}

TEST(LiveInputOptions, BadTransportIsRejectedWithItsPlace) {
  const PipelineSpec spec = parse_pipeline(
      "input:\n  uri: rtsp://cam/x\n  transport: pigeon\nstages:\n  - detector: hog\n",
      "live.yaml");
  const std::string message = testing::config_error([&] { validate_pipeline(spec); });
  EXPECT_NE(message.find("live.yaml:3:14"), std::string::npos) << message;
  EXPECT_NE(message.find("pigeon"), std::string::npos) << message;
  EXPECT_NE(message.find("tcp, udp or auto"), std::string::npos) << message;
}

TEST(LiveInputOptions, OutputStemOfALiveInputNeverHoldsCredentials) {
  EXPECT_EQ(expand_output_path("{stem}.mp4", "rtsp://viewer:s3cret-pw@cam"), "stream.mp4");
  EXPECT_EQ(expand_output_path("{stem}.mp4", "rtsp://viewer:s3cret-pw@cam:554/live/cam1"),
            "cam1.mp4");
  EXPECT_EQ(expand_output_path("{stem}.mp4", "test:ball"), "test-ball.mp4");
  EXPECT_EQ(expand_output_path("{stem}.mp4", "gst:videotestsrc ! video/x-raw,width=320"),
            "gst.mp4");
  EXPECT_EQ(expand_output_path("{stem}.mp4", "/dev/video0"), "video0.mp4");
}

TEST_F(LiveInput, BadTransportFlagIsAConfigError) {
  const ProcessResult result = run("test:ball", 5, {"--transport", "pigeon"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--transport"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace lookout
