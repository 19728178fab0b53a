#include "lookout/capture/gst_source.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

#include "lookout/core/error.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

struct ReadResult {
  std::vector<Frame> frames;
  Source::Read last = Source::Read::kFrame;
  std::string error;
};

// Reads until the source ends or fails, keeping every frame (and so every borrowed buffer).
ReadResult read_all(Source& source, std::size_t limit = 100000) {
  ReadResult result;
  while (result.frames.size() < limit) {
    Frame frame;
    result.last = source.read(frame, result.error);
    if (result.last != Source::Read::kFrame) break;
    result.frames.push_back(std::move(frame));
  }
  return result;
}

std::unique_ptr<Source> open_path(const std::string& path) {
  SourceOptions options;
  options.input = path;
  options.open_timeout = std::chrono::seconds(20);
  return open_source(options);
}

TEST(GstSource, ReadsEveryFrameOfGeneratedMp4WithIncreasingPts) {
  const std::string path = testing::make_temp_dir("source") + "/clip.mp4";
  testing::generate_clip(path, 320, 240, 30, 25);
  auto source = open_path(path);

  const StreamInfo& info = source->info();
  EXPECT_EQ(info.width, 320);
  EXPECT_EQ(info.height, 240);
  EXPECT_EQ(info.fps_num, 25);
  EXPECT_EQ(info.fps_den, 1);
  EXPECT_EQ(info.frame_count, 30);
  EXPECT_NEAR(static_cast<double>(info.duration_ns), 1.2e9, 1e6);
  EXPECT_EQ(info.uri, path);

  // Kept alive together: more frames than appsink holds, so this also checks that frames kept
  // do not starve decoding.
  const ReadResult result = read_all(*source);
  EXPECT_EQ(result.last, Source::Read::kEnd) << result.error;
  ASSERT_EQ(result.frames.size(), 30u);
  std::int64_t previous = -1;
  for (const Frame& frame : result.frames) {
    EXPECT_EQ(frame.image.cols, 320);
    EXPECT_EQ(frame.image.rows, 240);
    EXPECT_EQ(frame.image.type(), CV_8UC3);
    EXPECT_EQ(frame.owner, nullptr);  // the frame owns its pixels
    EXPECT_GT(frame.pts_ns, previous);
    EXPECT_NEAR(static_cast<double>(frame.duration_ns), 40e6, 1e6);
    previous = frame.pts_ns;
  }
  EXPECT_EQ(result.frames.front().pts_ns, 0);
}

// Vertical bars (smpte) are constant down a column in their upper part, so comparing two rows
// shows whether rows were read with the right stride: a wrong one shears the picture.
void expect_rows_agree(const cv::Mat& image, int row_a, int row_b) {
  for (int x = 4; x < image.cols - 4; x += image.cols / 9) {
    const cv::Vec3b a = image.at<cv::Vec3b>(row_a, x);
    const cv::Vec3b b = image.at<cv::Vec3b>(row_b, x);
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(a[c], b[c], 40) << "column " << x << " channel " << c;
    }
  }
}

TEST(GstSource, ReadsOddWidthClipWithStreamStride) {
  const std::string path = testing::make_temp_dir("source") + "/odd-width.mp4";
  testing::generate_clip(path, 642, 480, 5, 25, "smpte");
  auto source = open_path(path);
  EXPECT_EQ(source->info().width, 642);
  EXPECT_EQ(source->info().height, 480);

  const ReadResult result = read_all(*source);
  ASSERT_EQ(result.frames.size(), 5u) << result.error;
  const cv::Mat& image = result.frames[2].image;
  EXPECT_EQ(image.cols, 642);
  EXPECT_EQ(image.rows, 480);
  EXPECT_GE(image.step[0], 642u * 3);
  expect_rows_agree(image, 8, 300);
}

// Capture asks videoconvert for BGRx and repacks it; the pixels must be exactly those of
// GStreamer's own conversion to BGR, channel order included.
TEST(GstSource, GivesExactlyTheBgrPixelsOfGStreamersConversion) {
  const std::string dir = testing::make_temp_dir("source");
  testing::generate_clip(dir + "/smpte.mp4", 322, 240, 4, 25, "smpte");
  testing::gst_launch("filesrc location=" + dir + "/smpte.mp4 ! decodebin ! videoconvert ! "
                      "video/x-raw,format=BGR ! filesink location=" + dir + "/smpte.bgr");
  std::ifstream raw(dir + "/smpte.bgr", std::ios::binary);
  auto source = open_path(dir + "/smpte.mp4");
  const ReadResult result = read_all(*source);
  ASSERT_EQ(result.frames.size(), 4u) << result.error;
  // GStreamer pads each BGR row to a multiple of 4 bytes: 322 x 3 = 966 -> 968.
  const std::size_t stride = 968;
  for (const Frame& frame : result.frames) {
    std::vector<unsigned char> bytes(stride * 240);
    raw.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(raw) << "fewer frames in GStreamer's conversion";
    const cv::Mat expected(240, 322, CV_8UC3, bytes.data(), stride);
    EXPECT_EQ(cv::norm(frame.image, expected, cv::NORM_INF), 0.0);
  }
  // smpte's first bar, top left, is a light grey and its third (of seven) cyan: B and G high, R low.
  const cv::Vec3b cyan = result.frames[0].image.at<cv::Vec3b>(10, 322 * 5 / 14);
  EXPECT_GT(cyan[0], 150);
  EXPECT_GT(cyan[1], 150);
  EXPECT_LT(cyan[2], 60);
}

TEST(GstSource, ReadsOddWidthAndHeightClip) {
  const std::string path = testing::make_temp_dir("source") + "/odd-size.mp4";
  testing::generate_clip(path, 641, 361, 5, 25, "smpte");
  auto source = open_path(path);
  EXPECT_EQ(source->info().width, 641);
  EXPECT_EQ(source->info().height, 361);

  const ReadResult result = read_all(*source);
  ASSERT_EQ(result.frames.size(), 5u) << result.error;
  for (const Frame& frame : result.frames) {
    EXPECT_EQ(frame.image.cols, 641);
    EXPECT_EQ(frame.image.rows, 361);
    EXPECT_GE(frame.image.step[0], 641u * 3);
  }
  expect_rows_agree(result.frames[0].image, 4, 200);
}

TEST(GstSource, KeepsFrameImageValidAfterSourceIsDestroyed) {
  const std::string path = testing::make_temp_dir("source") + "/clip.mp4";
  testing::generate_clip(path, 320, 240, 10, 25, "smpte");
  Frame kept;
  cv::Mat expected;
  {
    auto source = open_path(path);
    std::string error;
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(source->read(kept, error), Source::Read::kFrame) << error;
    }
    expected = kept.image.clone();
  }
  ASSERT_EQ(kept.image.size(), expected.size());
  EXPECT_EQ(cv::norm(kept.image, expected, cv::NORM_INF), 0.0);
  // The picture is not blank, so the comparison above compared real pixels.
  EXPECT_GT(cv::norm(expected, cv::NORM_INF), 100.0);
}

TEST(GstSource, ReportsSizeAndFrameCountOfVtestSample) {
  auto source = open_path(testing::sample_path("vtest.avi"));
  const StreamInfo& info = source->info();
  EXPECT_EQ(info.width, 768);
  EXPECT_EQ(info.height, 576);
  EXPECT_EQ(info.frame_count, 795);
  EXPECT_GT(info.fps(), 0.0);
  if (testing::short_run()) return;
  const ReadResult result = read_all(*source);
  EXPECT_EQ(result.last, Source::Read::kEnd) << result.error;
  EXPECT_EQ(static_cast<std::int64_t>(result.frames.size()), info.frame_count);
}

// The threads of this process while a source with `decoder_threads` has read a few frames.
std::size_t threads_while_decoding(const std::string& path, int decoder_threads) {
  SourceOptions options;
  options.input = path;
  options.decoder_threads = decoder_threads;
  auto source = open_source(options);
  Frame frame;
  std::string error;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(source->read(frame, error), Source::Read::kFrame) << error;
  }
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

TEST(GstSource, GivesTheDecoderTheThreadsAsked) {
  const std::string path = testing::make_temp_dir("source") + "/clip.mp4";
  testing::generate_clip(path, 320, 240, 20);
  // libav's H.264 decoder starts one thread per decoder thread for a file. Idle threads that
  // GStreamer's pool keeps from the first source (two at most) can only add to the second count.
  const std::size_t with_four = threads_while_decoding(path, 4);
  const std::size_t with_one = threads_while_decoding(path, 1);
  EXPECT_GE(with_four, with_one + 2);
}

TEST(GstSource, RejectsDecoderThreadsOutOfRangeNamingTheOption) {
  const std::string path = testing::make_temp_dir("source") + "/clip.mp4";
  testing::generate_clip(path, 64, 48, 2);
  for (const int threads : {-1, 65}) {
    SourceOptions options;
    options.input = path;
    options.decoder_threads = threads;
    try {
      open_source(options);
      ADD_FAILURE() << "expected ConfigError for decoder_threads " << threads;
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("decoder_threads"), std::string::npos) << error.what();
    }
  }
}

TEST(GstSource, RejectsMissingFileWithConfigErrorNamingIt) {
  const std::string path = testing::make_temp_dir("source") + "/no-such-clip.mp4";
  try {
    open_path(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
  }
}

TEST(GstSource, RejectsFileOfRandomBytesWithRuntimeErrorNamingIt) {
  const std::string path = testing::make_temp_dir("source") + "/noise.mp4";
  {
    std::mt19937 random(7);
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>(random() & 0xff));
  }
  try {
    open_path(path);
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

TEST(GstSource, ReportsAudioOnlyFileAsHavingNoVideoStream) {
  const std::string path = testing::make_temp_dir("source") + "/tone.wav";
  const testing::ProcessResult made =
      testing::run_process({"gst-launch-1.0", "-q", "audiotestsrc", "num-buffers=20", "!", "wavenc",
                            "!", "filesink", "location=" + path},
                           std::chrono::seconds(60));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  try {
    open_path(path);
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("no video stream"), std::string::npos) << message;
  }
}

// A loopback TCP port that accepts connections (the kernel completes them) but never answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
    }
    port_ = ntohs(address.sin_port);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  ~SilentServer() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(GstSource, GivesUpOnSilentServerAfterOpenTimeoutWithoutShowingPassword) {
  SilentServer server;
  SourceOptions options;
  options.input = "http://viewer:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/clip.mp4";
  options.open_timeout = std::chrono::seconds(1);
  const auto started = std::chrono::steady_clock::now();
  try {
    open_source(options);
    FAIL() << "expected RuntimeError";
  } catch (const RuntimeError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("within 1 s"), std::string::npos) << message;
    EXPECT_NE(message.find("http://***@127.0.0.1:"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(GstSource, EndsReadingOnceInterrupted) {
  const std::string path = testing::make_temp_dir("source") + "/clip.mp4";
  testing::generate_clip(path, 160, 120, 20, 25);
  auto source = open_path(path);
  Frame frame;
  std::string error;
  ASSERT_EQ(source->read(frame, error), Source::Read::kFrame) << error;
  source->interrupt();
  EXPECT_EQ(source->read(frame, error), Source::Read::kEnd);
}

}  // namespace
}  // namespace lookout
