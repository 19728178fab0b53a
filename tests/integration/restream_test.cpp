// The RTSP restream: the stage on its own (no client, a slow client, a busy port, a bad address),
// the `lookout` command serving a live input to a real RTSP client (lookout's own capture, which
// plays RTSP through rtspsrc) and stopping on SIGINT, and the pipeline file's restream keys.
// Every run of the command has a timeout, so a hang fails.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "lookout/output/rtsp_restream.h"
#include "lookout/pipeline/spec_loader.h"
#include "support/errors.h"
#include "support/media.h"
#include "support/ports.h"
#include "support/process.h"

namespace lookout {
namespace {

using testing::config_error;
using testing::ProcessResult;
using testing::run_lookout;
using testing::SignalPlan;

using testing::free_port;
using testing::Listener;

Frame grey_frame(std::int64_t seq, int width, int height) {
  Frame frame;
  frame.seq = seq;
  frame.pts_ns = seq * 40'000'000;
  frame.image = cv::Mat(height, width, CV_8UC3, cv::Scalar(90, 120, 150));
  return frame;
}

RtspRestreamOptions options_for(int width, int height) {
  RtspRestreamOptions options;
  options.port = 0;  // any free port
  options.width = width;
  options.height = height;
  return options;
}

// An RTSP client that plays `url` on its own thread and counts the frames it decodes, until it is
// told to stop or the stream ends. It retries connecting (the server may not be up yet) until
// `give_up` is true or a minute has passed.
class Viewer {
 public:
  explicit Viewer(std::string url, const std::atomic<bool>* give_up = nullptr)
      : thread_([this, url = std::move(url), give_up] { run(url, give_up); }) {}
  Viewer(const Viewer&) = delete;
  Viewer& operator=(const Viewer&) = delete;
  ~Viewer() { join(); }

  void stop() { stop_.store(true); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool connected() const { return connected_.load(); }
  std::int64_t frames() const { return frames_.load(); }
  // After join(): the size of every frame received, and why connecting failed, if it did.
  const std::vector<cv::Size>& sizes() const { return sizes_; }
  // After join(): how many frames had something bright in their top-left corner, where the
  // annotator writes the frame number and time (the ball pattern's corner is black).
  std::int64_t labelled() const { return labelled_; }
  const std::string& failure() const { return failure_; }
  // How many times it asked the server for the stream: a slow first answer (the sanitizers) makes
  // it ask again, and the server counts each asking client.
  int attempts() const { return attempts_.load(); }

 private:
  void run(const std::string& url, const std::atomic<bool>* give_up) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::unique_ptr<Source> source;
    while (!source && !stop_.load() && (give_up == nullptr || !give_up->load()) &&
           std::chrono::steady_clock::now() < deadline) {
      SourceOptions options;
      options.input = url;
      options.transport = RtspTransport::kTcp;
      options.open_timeout = std::chrono::seconds(20);
      options.reconnect_attempts = 0;
      attempts_.fetch_add(1);
      try {
        source = open_source(options);
      } catch (const std::exception& e) {
        failure_ = e.what();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    if (!source) return;
    connected_.store(true);
    while (!stop_.load()) {
      Frame frame;
      std::string error;
      if (source->read(frame, error) != Source::Read::kFrame) break;
      sizes_.emplace_back(frame.image.cols, frame.image.rows);
      if (frame.image.cols >= 100 && frame.image.rows >= 14) {
        double brightest = 0;
        cv::minMaxLoc(frame.image(cv::Rect(0, 0, 100, 14)).reshape(1), nullptr, &brightest);
        if (brightest > 200) ++labelled_;
      }
      frames_.fetch_add(1);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<std::int64_t> frames_{0};
  std::atomic<int> attempts_{0};
  std::vector<cv::Size> sizes_;
  std::int64_t labelled_ = 0;
  std::string failure_;
  std::thread thread_;
};

// Pushes frames at about 25 fps until `enough` says stop or 60 s have passed; returns how many.
int push_until(RtspRestream& restream, int width, int height, const std::function<bool()>& enough,
               std::int64_t& seq) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int pushed = 0;
  while (!enough() && std::chrono::steady_clock::now() < deadline) {
    Frame frame = grey_frame(seq++, width, height);
    restream.process(frame);
    ++pushed;
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  return pushed;
}

TEST(RtspRestream, DiscardsFramesWithoutEncodingWhileNoClientIsConnected) {
  RtspRestream restream(options_for(320, 240));
  EXPECT_GT(restream.port(), 0);
  EXPECT_EQ(restream.url(), "rtsp://127.0.0.1:" + std::to_string(restream.port()) + "/lookout");
  for (std::int64_t seq = 0; seq < 10; ++seq) {
    Frame frame = grey_frame(seq, 320, 240);
    restream.process(frame);
  }
  Frame marker;
  marker.seq = 10;
  marker.drop(DropCause::kPipelineFull);
  restream.process(marker);
  restream.finish();
  EXPECT_EQ(restream.frames_unwatched(), 10);
  EXPECT_EQ(restream.frames_sent(), 0);
  EXPECT_EQ(restream.frames_dropped(), 0);
  EXPECT_EQ(restream.clients(), 0);
}

TEST(RtspRestream, ServesItsFramesToAClientAtTheirSize) {
  RtspRestream restream(options_for(320, 240));
  Viewer viewer(restream.url());
  std::int64_t seq = 0;
  push_until(
      restream, 320, 240, [&] { return viewer.frames() >= 5; }, seq);
  viewer.stop();
  restream.finish();
  viewer.join();
  ASSERT_TRUE(viewer.connected()) << viewer.failure();
  ASSERT_GE(viewer.sizes().size(), 5u);
  for (const cv::Size& size : viewer.sizes()) EXPECT_EQ(size, cv::Size(320, 240));
  EXPECT_EQ(viewer.labelled(), 0);  // plain grey frames: what the command's test tells apart
  EXPECT_GE(restream.clients(), 1);
  EXPECT_LE(restream.clients(), viewer.attempts());
  EXPECT_GE(restream.frames_sent(), 5);
}

TEST(RtspRestream, DropsAndCountsFramesWhenTheEncoderFallsBehindInsteadOfWaiting) {
  RtspRestream restream(options_for(640, 480));
  Viewer viewer(restream.url());
  std::int64_t seq = 0;
  push_until(
      restream, 640, 480, [&] { return viewer.frames() >= 1; }, seq);
  ASSERT_TRUE(viewer.connected()) << viewer.failure();
  // A burst far faster than x264 can encode 640x480: process() must drop, not wait.
  const std::int64_t sent_before = restream.frames_sent();
  const std::int64_t dropped_before = restream.frames_dropped();
  const std::int64_t unwatched_before = restream.frames_unwatched();
  constexpr int kBurst = 300;
  const Frame source = grey_frame(0, 640, 480);
  for (int i = 0; i < kBurst; ++i) {
    Frame frame;
    frame.seq = seq;
    frame.pts_ns = seq++ * 40'000'000;
    frame.image = source.image;  // shared pixels: the burst costs no copies
    restream.process(frame);
  }
  const std::int64_t sent = restream.frames_sent() - sent_before;
  const std::int64_t dropped = restream.frames_dropped() - dropped_before;
  const std::int64_t unwatched = restream.frames_unwatched() - unwatched_before;
  viewer.stop();
  restream.finish();
  viewer.join();
  EXPECT_EQ(sent + dropped + unwatched, kBurst);
  EXPECT_EQ(unwatched, 0);
  EXPECT_GT(dropped, 0);
  EXPECT_GT(sent, 0);
}

TEST(RtspRestream, RefusesAPortInUseNamingItBeforeServing) {
  Listener busy;
  RtspRestreamOptions options = options_for(320, 240);
  options.port = busy.port();
  const std::string message = config_error([&] { RtspRestream restream(options); });
  EXPECT_NE(message.find("port " + std::to_string(busy.port()) + " on 127.0.0.1 is already in use"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--restream PORT"), std::string::npos) << message;
}

TEST(RtspRestream, RefusesAnAddressThatIsNotAnIpAddressOrNotOfThisMachine) {
  RtspRestreamOptions options = options_for(320, 240);
  options.address = "camera-host";
  std::string message = config_error([&] { RtspRestream restream(options); });
  EXPECT_NE(message.find("'camera-host' is not an IP address"), std::string::npos) << message;
  // 192.0.2.0/24 is reserved for documentation: never an address of this machine.
  options.address = "192.0.2.1";
  message = config_error([&] { RtspRestream restream(options); });
  EXPECT_NE(message.find("cannot serve the restream on 192.0.2.1 port 0"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--restream-address"), std::string::npos) << message;
}

class RestreamCommand : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("restream"); }
  std::vector<std::string> args(int port) const {
    return {"run",
            "--input",
            "test:ball",
            "--width",
            "320",
            "--height",
            "240",
            "--detector",
            "cascade",
            "--restream",
            std::to_string(port),
            "--output",
            dir_ + "/ball.mkv",
            "--metadata",
            dir_ + "/ball.jsonl"};
  }
  std::string dir_;
};

TEST_F(RestreamCommand, ServesTheAnnotatedStreamToAnRtspClientAndStopsCleanlyOnSigint) {
  const int port = free_port();
  const std::string url = "rtsp://127.0.0.1:" + std::to_string(port) + "/lookout";
  const std::int64_t wanted = testing::short_run() ? 5 : 25;
  std::atomic<bool> interrupt{false};
  std::atomic<bool> exited{false};
  ProcessResult result;
  std::thread command([&] {
    result = run_lookout(args(port), std::chrono::seconds(120), SignalPlan{SIGINT, {}, &interrupt});
    exited.store(true);
  });
  Viewer viewer(url, &exited);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (viewer.frames() < wanted && !exited.load() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Ctrl-C while the client is still watching.
  interrupt.store(true);
  command.join();
  viewer.stop();
  viewer.join();

  ASSERT_TRUE(viewer.connected()) << viewer.failure() << "\n" << result.err;
  ASSERT_GE(static_cast<std::int64_t>(viewer.sizes().size()), wanted);
  for (const cv::Size& size : viewer.sizes()) EXPECT_EQ(size, cv::Size(320, 240));
  EXPECT_EQ(viewer.labelled(), static_cast<std::int64_t>(viewer.sizes().size()));  // annotated
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("(stopped early)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  served     " + url + " ("), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1 connections"), std::string::npos) << result.out;
  // The recording was finalised alongside: it plays.
  EXPECT_GT(testing::count_frames(dir_ + "/ball.mkv"), 0);
}

TEST_F(RestreamCommand, APortInUseIsAConfigurationErrorNamingThePortBeforeAnythingIsWritten) {
  Listener busy;
  const ProcessResult result = run_lookout(args(busy.port()), std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, kExitConfigError) << result.err;
  EXPECT_NE(result.err.find("lookout: error: cannot serve the restream: port " +
                            std::to_string(busy.port()) + " on 127.0.0.1 is already in use"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(testing::count_frames(dir_ + "/ball.mkv"), -1);  // no file was made
}

TEST_F(RestreamCommand, AnAddressWithoutAPortIsAConfigurationError) {
  const ProcessResult result =
      run_lookout({"run", "--input", "test:ball", "--detector", "cascade", "--restream-address",
                   "0.0.0.0", "--output", dir_ + "/x.mkv"},
                  std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, kExitConfigError);
  EXPECT_NE(result.err.find("--restream-address 0.0.0.0 needs a port"), std::string::npos)
      << result.err;
}

TEST(RestreamPipelineFile, TakesAPortOrAPortAndAnAddress) {
  PipelineSpec spec = parse_pipeline(
      "input: test:ball\nstages: [{detector: cascade}]\noutput: {restream: 8554}\n", "a.yaml");
  EXPECT_TRUE(spec.problems.empty());
  EXPECT_EQ(spec.restream_port, 8554);
  EXPECT_EQ(spec.restream_address, "127.0.0.1");
  EXPECT_FALSE(spec.display);

  spec = parse_pipeline(
      "input: test:ball\nstages: [{detector: cascade}]\n"
      "output: {restream: {port: 9000, address: 0.0.0.0}, display: true}\n",
      "b.yaml");
  EXPECT_TRUE(spec.problems.empty());
  EXPECT_EQ(spec.restream_port, 9000);
  EXPECT_EQ(spec.restream_address, "0.0.0.0");
  EXPECT_TRUE(spec.display);
}

TEST(RestreamPipelineFile, ReportsABadPortAMissingPortAndAnUnknownKeyWithTheirPlace) {
  const PipelineSpec spec = parse_pipeline(
      "input: test:ball\nstages: [{detector: cascade}]\n"
      "output:\n  restream: {adress: 0.0.0.0}\n  display: maybe\n",
      "c.yaml");
  std::string all;
  for (const auto& problem : spec.problems) all += problem + "\n";
  EXPECT_NE(
      all.find("c.yaml:4:14: unknown key 'adress' in output.restream; did you mean 'address'?"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("'output.restream' needs a port"), std::string::npos) << all;
  EXPECT_NE(all.find("c.yaml:5:12: 'output.display' must be true or false"), std::string::npos)
      << all;

  const PipelineSpec out_of_range = parse_pipeline(
      "input: test:ball\nstages: [{detector: cascade}]\noutput: {restream: 70000}\n", "d.yaml");
  ASSERT_EQ(out_of_range.problems.size(), 1u);
  EXPECT_NE(
      out_of_range.problems[0].find("'output.restream' must be a whole number from 1 to 65535"),
      std::string::npos)
      << out_of_range.problems[0];
}

}  // namespace
}  // namespace lookout
