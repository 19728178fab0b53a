// Reconnection of live inputs, against a real RTSP server on loopback: a server that stops and
// comes back on the same port, one that stalls with its connection open, one that is gone for
// good, and an interrupt while a reconnection waits; through the Source itself and through the
// `lookout` command (mp4 + metadata). Every wait is bounded, so a hang fails instead of blocking.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/pipeline/spec_loader.h"
#include "support/errors.h"
#include "support/eventually.h"
#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"
#include "support/rtsp_server.h"
#include "support/text_match.h"

namespace lookout {
namespace {

using nlohmann::json;
using testing::ProcessResult;
using testing::RtspServer;
using testing::run_lookout;

constexpr auto kRunTimeout = std::chrono::seconds(120);
constexpr auto kWaitLimit = std::chrono::seconds(60);

// A live 320x240 ball at 10 fps, with a key frame every 5 frames so that a client that (re)connects
// gets a picture within half a second, and a valve so that it can be stalled.
RtspServer::Settings stallable_ball(const std::string& user = {},
                                    const std::string& password = {}) {
  RtspServer::Settings settings;
  settings.launch =
      "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 "
      "! valve name=stall ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=5 "
      "! rtph264pay name=pay0 pt=96 )";
  settings.user = user;
  settings.password = password;
  return settings;
}

// Short stall timeout and backoff, so that a loss is noticed and repaired within a few seconds.
SourceOptions quick_reconnect(const std::string& url) {
  SourceOptions options;
  options.input = url;
  options.transport = RtspTransport::kTcp;
  options.latency_ms = 100;
  options.stall_timeout = std::chrono::seconds(1);
  options.reconnect_delay = std::chrono::milliseconds(100);
  options.reconnect_max_delay = std::chrono::milliseconds(500);
  return options;
}

// Polls `condition` until it holds (true) or `limit` passes (false).
bool eventually(const std::function<bool()>& condition,
                std::chrono::steady_clock::duration limit = kWaitLimit) {
  return testing::eventually(condition, limit);
}

bool reconnecting(const Source& source) {
  return source.status().state == SourceStatus::State::kReconnecting;
}

// Reads `count` frames; fails the test if the source ends first.
std::vector<Frame> read_frames(Source& source, std::size_t count) {
  std::vector<Frame> frames;
  while (frames.size() < count) {
    Frame frame;
    std::string error;
    const Source::Read result = source.read(frame, error);
    EXPECT_EQ(result, Source::Read::kFrame) << error;
    if (result != Source::Read::kFrame) break;
    frames.push_back(std::move(frame));
  }
  return frames;
}

// Reads until a frame carries an event (the first frame after a gap), at most `limit` frames. The
// frames before it are those the sink still held when the stream was lost.
std::optional<Frame> read_until_event(Source& source, std::int64_t& last_pts, int limit = 500) {
  for (int i = 0; i < limit; ++i) {
    Frame frame;
    std::string error;
    const Source::Read result = source.read(frame, error);
    EXPECT_EQ(result, Source::Read::kFrame) << error;
    if (result != Source::Read::kFrame) return std::nullopt;
    if (!frame.events.empty()) return frame;
    last_pts = frame.pts_ns;
  }
  ADD_FAILURE() << "no frame after " << limit << " carried an event";
  return std::nullopt;
}

void expect_increasing_pts(const std::vector<Frame>& frames, std::int64_t previous) {
  for (const Frame& frame : frames) {
    EXPECT_GT(frame.pts_ns, previous);
    previous = frame.pts_ns;
  }
}

TEST(ReconnectingSource, ServerThatRestartsOnTheSamePortIsReconnectedAndTheGapMarked) {
  RtspServer server(stallable_ball());
  server.start();
  const int port = server.port();
  auto source = open_source(quick_reconnect(server.url()));
  const std::vector<Frame> before = read_frames(*source, 5);
  ASSERT_EQ(before.size(), 5u);
  EXPECT_EQ(source->status().state, SourceStatus::State::kStreaming);
  EXPECT_EQ(source->status().reconnects, 0);

  server.stop();
  // The server comes back only once the source has noticed that it went away.
  std::thread restart([&] {
    if (eventually([&] { return reconnecting(*source); })) server.start();
  });
  std::int64_t last_pts = before.back().pts_ns;
  std::optional<Frame> after = read_until_event(*source, last_pts);
  restart.join();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(server.port(), port);

  ASSERT_EQ(after->events.size(), 1u);
  const StreamEvent& gap = after->events.front();
  EXPECT_EQ(gap.kind, StreamEvent::Kind::kGap);
  EXPECT_GE(gap.attempts, 1);
  EXPECT_FALSE(gap.reason.empty());
  EXPECT_GT(gap.duration.count(), 0);
  EXPECT_LT(gap.duration, kWaitLimit + kRunTimeout);
  EXPECT_NE(gap.start, std::chrono::system_clock::time_point{});
  // The new stream's time continues from the old one's, with the gap in between.
  EXPECT_EQ(after->pts_ns, last_pts + gap.duration.count());
  expect_increasing_pts(read_frames(*source, 5), after->pts_ns);

  const SourceStatus status = source->status();
  EXPECT_EQ(status.state, SourceStatus::State::kStreaming);
  EXPECT_EQ(status.reconnects, 1);
  EXPECT_EQ(status.reconnect_attempts, gap.attempts);
}

// A stream that fails with an error (not an end, not a stall) is reconnected too, and the gap
// says which error: identity posts one after 10 frames of a live pattern described for GStreamer.
TEST(ReconnectingSource, StreamErrorIsReconnectedAndTheGapNamesTheError) {
  SourceOptions options = quick_reconnect(
      "gst:videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=25/1 "
      "! identity name=failing error-after=10");
  auto source = open_source(options);
  std::int64_t last_pts = -1;
  std::optional<Frame> after = read_until_event(*source, last_pts);
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->events.size(), 1u);
  const StreamEvent& gap = after->events.front();
  EXPECT_EQ(gap.kind, StreamEvent::Kind::kGap);
  EXPECT_NE(gap.reason.find("failing: "), std::string::npos) << "reason: '" << gap.reason << "'";
  EXPECT_EQ(source->status().reconnects, 1);
}

TEST(ReconnectingSource, StalledServerIsDetectedByTheStallTimeoutAndReconnected) {
  RtspServer server(stallable_ball());
  server.start();
  auto source = open_source(quick_reconnect(server.url()));
  const std::vector<Frame> before = read_frames(*source, 3);
  ASSERT_EQ(before.size(), 3u);

  // The connection stays open but nothing comes; the server resumes once the source has given up
  // on the stalled connection.
  server.set_stalled(true);
  std::thread resume([&] {
    eventually([&] { return reconnecting(*source); });
    server.set_stalled(false);
  });
  std::int64_t last_pts = before.back().pts_ns;
  std::optional<Frame> after = read_until_event(*source, last_pts);
  resume.join();
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->events.size(), 1u);
  EXPECT_NE(after->events.front().reason.find("no frame for 1 s"), std::string::npos)
      << after->events.front().reason;
  EXPECT_GT(after->pts_ns, last_pts);
  EXPECT_EQ(source->status().reconnects, 1);
}

TEST(ReconnectingSource, InterruptEndsAReconnectionWaitAndReadReturnsEnd) {
  RtspServer server(stallable_ball());
  server.start();
  SourceOptions options = quick_reconnect(server.url());
  // Long enough that only interrupt() can end the wait within the test's timeout.
  options.reconnect_delay = std::chrono::minutes(30);
  options.reconnect_max_delay = std::chrono::minutes(30);
  auto source = open_source(options);
  ASSERT_EQ(read_frames(*source, 2).size(), 2u);

  server.stop();
  std::atomic<int> last{-1};
  std::thread reader([&] {
    for (;;) {
      Frame frame;
      std::string error;
      const Source::Read result = source->read(frame, error);
      if (result != Source::Read::kFrame) {
        last.store(static_cast<int>(result));
        return;
      }
    }
  });
  EXPECT_TRUE(eventually([&] { return reconnecting(*source); }));
  source->interrupt();
  reader.join();
  EXPECT_EQ(last.load(), static_cast<int>(Source::Read::kEnd));
  EXPECT_EQ(source->status().state, SourceStatus::State::kEnded);
  EXPECT_EQ(source->status().reconnects, 0);
}

// Reads until the source stops giving frames (at most `limit` reads) and returns how it stopped.
Source::Read read_to_the_end(Source& source, std::string& error, int limit = 500) {
  Source::Read result = Source::Read::kFrame;
  for (int i = 0; i < limit && result == Source::Read::kFrame; ++i) {
    Frame frame;
    result = source.read(frame, error);
  }
  return result;
}

TEST(ReconnectingSource, ZeroAttemptsEndsWithTheServerAndReportsAStallAsAnErrorNamingTheInput) {
  RtspServer server(stallable_ball());
  server.start();
  SourceOptions options = quick_reconnect(server.url());
  options.reconnect_attempts = 0;

  auto stalled = open_source(options);
  ASSERT_EQ(read_frames(*stalled, 2).size(), 2u);
  server.set_stalled(true);
  std::string error;
  EXPECT_EQ(read_to_the_end(*stalled, error), Source::Read::kError);
  EXPECT_NE(error.find(options.input), std::string::npos) << error;
  EXPECT_NE(error.find("no frame for 1 s"), std::string::npos) << error;
  EXPECT_EQ(stalled->status().reconnect_attempts, 0);
  EXPECT_EQ(stalled->status().state, SourceStatus::State::kEnded);
  stalled.reset();

  server.set_stalled(false);
  auto gone = open_source(options);
  ASSERT_EQ(read_frames(*gone, 2).size(), 2u);
  server.stop();
  // The server's going away reaches the source as the end of its stream (or an error).
  EXPECT_NE(read_to_the_end(*gone, error), Source::Read::kFrame);
  EXPECT_EQ(gone->status().reconnect_attempts, 0);
  EXPECT_EQ(gone->status().state, SourceStatus::State::kEnded);
}

TEST(ReconnectingSource, TestPatternReportsItsFramesAndNeverReconnects) {
  SourceOptions options;
  options.input = "test:ball";
  options.width = 160;
  options.height = 120;
  auto source = open_source(options);
  EXPECT_EQ(source->status().frames, 0);
  EXPECT_EQ(source->status().last_frame, std::chrono::system_clock::time_point{});
  ASSERT_EQ(read_frames(*source, 4).size(), 4u);
  const SourceStatus status = source->status();
  EXPECT_EQ(status.state, SourceStatus::State::kStreaming);
  EXPECT_EQ(status.frames, 4);
  EXPECT_EQ(status.reconnects, 0);
  EXPECT_NE(status.last_frame, std::chrono::system_clock::time_point{});
  source->interrupt();
  Frame frame;
  std::string error;
  EXPECT_EQ(source->read(frame, error), Source::Read::kEnd);
  EXPECT_EQ(source->status().state, SourceStatus::State::kEnded);
}

TEST(ReconnectOptions, OutOfRangeValuesAreConfigErrorsNamingTheOption) {
  auto message = [](const std::function<void(SourceOptions&)>& change) {
    SourceOptions options;
    options.input = "test:ball";
    change(options);
    return testing::config_error([&] { open_source(options); });
  };
  EXPECT_NE(message([](SourceOptions& o) {
              o.stall_timeout = std::chrono::milliseconds(50);
            }).find("stall_timeout"),
            std::string::npos);
  EXPECT_NE(message([](SourceOptions& o) { o.reconnect_attempts = -2; }).find("reconnect_attempts"),
            std::string::npos);
  EXPECT_NE(message([](SourceOptions& o) {
              o.reconnect_delay = std::chrono::milliseconds(0);
            }).find("reconnect_delay"),
            std::string::npos);
  EXPECT_NE(message([](SourceOptions& o) {
              o.reconnect_delay = std::chrono::seconds(2);
              o.reconnect_max_delay = std::chrono::seconds(1);
            }).find("reconnect_max_delay"),
            std::string::npos);
}

TEST(ReconnectOptions, PipelineFileInputMappingSetsStallTimeoutAndAttempts) {
  const PipelineSpec spec = parse_pipeline(
      "input:\n  uri: rtsp://cam/x\n  stall_timeout: 2.5\n  reconnect_attempts: 3\n"
      "stages:\n  - detector: hog\n",
      "live.yaml");
  ASSERT_TRUE(spec.problems.empty()) << spec.problems.front();
  const ValidatedPipeline validated = validate_pipeline(spec);
  EXPECT_EQ(validated.source.stall_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(validated.source.reconnect_attempts, 3);

  const ValidatedPipeline defaults = validate_pipeline(
      parse_pipeline("input: rtsp://cam/x\nstages:\n  - detector: hog\n", "d.yaml"));
  EXPECT_EQ(defaults.source.stall_timeout, std::chrono::seconds(10));
  EXPECT_EQ(defaults.source.reconnect_attempts, -1);
}

TEST(ReconnectOptions, BadStallTimeoutInAPipelineFileIsRejectedWithItsPlace) {
  const PipelineSpec spec = parse_pipeline(
      "input:\n  uri: rtsp://cam/x\n  stall_timeout: 0\n  reconnect_attempts: -3\n"
      "stages:\n  - detector: hog\n",
      "live.yaml");
  const std::string message = testing::config_error([&] { validate_pipeline(spec); });
  EXPECT_NE(message.find("live.yaml:3:18"), std::string::npos) << message;
  EXPECT_NE(message.find("stall_timeout"), std::string::npos) << message;
}

std::size_t line_count(const std::string& path) {
  std::ifstream in(path);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

// `lookout run` on a background thread, so that the test can take the server away meanwhile.
class ReconnectCommand : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("reconnect"); }
  void TearDown() override {
    if (runner_.joinable()) runner_.join();
  }

  void start(const std::string& input, int frames, std::vector<std::string> extra) {
    std::vector<std::string> args{
        "run",   "--input",       input,      "--detector",           "hog",
        "--opt", "downscale=0.5", "--frames", std::to_string(frames), "--output",
        video(), "--metadata",    metadata(), "--transport",          "tcp"};
    args.insert(args.end(), extra.begin(), extra.end());
    runner_ = std::thread([this, args] { result_ = run_lookout(args, kRunTimeout); });
  }
  // Waits until the run has written `lines` metadata lines (it is then streaming).
  bool wait_for_lines(std::size_t lines) {
    return eventually([&] { return line_count(metadata()) >= lines; });
  }
  ProcessResult finish() {
    runner_.join();
    return result_;
  }

  std::string video() const { return dir_ + "/out.mp4"; }
  std::string metadata() const { return dir_ + "/out.jsonl"; }

  std::string dir_;
  std::thread runner_;
  ProcessResult result_;
};

TEST_F(ReconnectCommand, RunContinuesAcrossAServerRestartIntoOnePlayableMp4AndMarksTheGap) {
  RtspServer server(stallable_ball());
  server.start();
  constexpr int kFrames = 40;
  start(server.url(), kFrames, {"--stall-timeout", "2"});
  ASSERT_TRUE(wait_for_lines(10));
  server.stop();
  // Away for a while, like a camera that reboots; lookout keeps trying meanwhile.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  server.start();
  const ProcessResult result = finish();
  ASSERT_FALSE(result.timed_out);
  ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
  EXPECT_NE(result.out.find("reconnects 1 ("), std::string::npos) << result.out;

  // A live input that outruns lookout loses frames at the entrance (their lines say "dropped",
  // some without pts); every seq still has its line, and the video holds the frames that were ok.
  const std::vector<json> lines = testing::read_jsonl(metadata());
  std::vector<std::size_t> event_at;  // index of the event line among all lines
  std::int64_t next_seq = 0;
  std::int64_t ok_frames = 0;
  std::int64_t ok_after_gap = 0;
  double last_pts = -1;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    if (line.contains("event")) {
      event_at.push_back(i);
      continue;
    }
    EXPECT_EQ(line["seq"], next_seq++);
    if (line["status"] == "ok") {
      ++ok_frames;
      if (!event_at.empty()) ++ok_after_gap;
    }
    if (line["pts"].is_number()) {
      EXPECT_GT(line["pts"].get<double>(), last_pts) << line;
      last_pts = line["pts"].get<double>();
    }
  }
  EXPECT_EQ(next_seq, kFrames);
  ASSERT_EQ(event_at.size(), 1u);
  const std::size_t at = event_at.front();
  ASSERT_GE(at, 10u);               // frames before the gap...
  ASSERT_LT(at + 1, lines.size());  // ...and after it
  EXPECT_GT(ok_after_gap, 0);       // lookout processes frames again
  const json& gap = lines[at];
  const json& before = lines[at - 1];
  const json& after = lines[at + 1];
  EXPECT_EQ(gap["event"], "gap");
  EXPECT_EQ(gap["stream"], 0);
  EXPECT_EQ(gap["seq"], after["seq"]);
  EXPECT_EQ(after["seq"].get<int>(), before["seq"].get<int>() + 1);
  EXPECT_GE(gap["attempts"].get<int>(), 1);
  EXPECT_FALSE(gap["reason"].get<std::string>().empty());
  EXPECT_TRUE(testing::regex_full_match(gap["start"].get<std::string>(),
                                        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))
      << gap["start"];
  const double duration = gap["duration"].get<double>();
  EXPECT_GT(duration, 0.0);
  EXPECT_LT(duration, 120.0);
  // The frame after the gap is stamped the gap's duration after the frame before it (a frame
  // dropped in a run may have lost its pts; the one after the gap keeps its own).
  ASSERT_TRUE(after["pts"].is_number()) << after;
  if (before["pts"].is_number()) {
    EXPECT_NEAR(after["pts"].get<double>() - before["pts"].get<double>(), duration, 1e-3);
  }
  EXPECT_GT(ok_frames, 0);
  EXPECT_EQ(testing::count_frames(video()), ok_frames);
}

TEST_F(ReconnectCommand, ServerGoneForGoodEndsTheRunWithExitCode1NamingTheMaskedInputAndAttempts) {
  const std::string password = "s3cret-pw";
  RtspServer server(stallable_ball("viewer", password));
  server.start();
  start(server.url_with("viewer", password), 100'000, {"--reconnect-attempts", "2"});
  ASSERT_TRUE(wait_for_lines(5));
  const std::string masked = "rtsp://***@127.0.0.1:" + std::to_string(server.port()) + "/test";
  server.stop();
  const ProcessResult result = finish();
  ASSERT_FALSE(result.timed_out);
  EXPECT_EQ(result.signal, 0) << "crashed";
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find(masked), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("after 2 reconnection attempts"), std::string::npos) << result.err;
  // Why it was lost is said, whether the stream ended or errored.
  EXPECT_NE(result.err.find("was lost ("), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("was lost ()"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find(password), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find(password), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("reconnects 0 (2 attempts)"), std::string::npos) << result.out;

  // What came before the loss is kept, and the video plays.
  std::int64_t ok_frames = 0;
  for (const json& line : testing::read_jsonl(metadata())) {
    EXPECT_FALSE(line.contains("event")) << line;
    if (line["status"] == "ok") ++ok_frames;
  }
  EXPECT_GT(ok_frames, 0);
  EXPECT_EQ(testing::count_frames(video()), ok_frames);
}

TEST_F(ReconnectCommand, FlagsTakeMinusOneForeverAndRejectBadValuesNamingTheFlag) {
  start(
      "test:ball", 3,
      {"--width", "160", "--height", "120", "--reconnect-attempts", "-1", "--stall-timeout", "5"});
  const ProcessResult ok = finish();
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  start("test:ball", 3, {"--stall-timeout", "0"});
  const ProcessResult stall = finish();
  EXPECT_EQ(stall.exit_code, 2) << stall.err;
  EXPECT_NE(stall.err.find("--stall-timeout"), std::string::npos) << stall.err;

  start("test:ball", 3, {"--reconnect-attempts", "-5"});
  const ProcessResult attempts = finish();
  EXPECT_EQ(attempts.exit_code, 2) << attempts.err;
  EXPECT_NE(attempts.err.find("--reconnect-attempts"), std::string::npos) << attempts.err;
}

}  // namespace
}  // namespace lookout
