#include "lookout/output/video_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>

#include "lookout/capture/gst_source.h"
#include "lookout/core/error.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

VideoWriterOptions options_for(const std::string& path, int width, int height) {
  VideoWriterOptions options;
  options.path = path;
  options.width = width;
  options.height = height;
  options.fps_num = 25;
  options.fps_den = 1;
  options.speed_preset = "ultrafast";
  options.finish_timeout = std::chrono::seconds(30);
  return options;
}

// Left half red, right half blue, with a moving gray square so frames differ.
Frame make_frame(int width, int height, std::int64_t index) {
  Frame frame;
  frame.seq = index;
  frame.pts_ns = index * 40'000'000;
  frame.duration_ns = 40'000'000;
  frame.image = cv::Mat(height, width, CV_8UC3, cv::Scalar(0, 0, 255));
  frame.image(cv::Rect(width / 2, 0, width - width / 2, height)).setTo(cv::Scalar(255, 0, 0));
  const int side = std::min(width, height) / 8;
  const int x = static_cast<int>(index * 4 % (width / 2 - side));
  frame.image(cv::Rect(x, 0, side, side)).setTo(cv::Scalar(128, 128, 128));
  return frame;
}

cv::Size size_of(const std::string& path) {
  cv::VideoCapture capture(path);
  if (!capture.isOpened()) return {};
  return {static_cast<int>(capture.get(cv::CAP_PROP_FRAME_WIDTH)),
          static_cast<int>(capture.get(cv::CAP_PROP_FRAME_HEIGHT))};
}

void write_frames(VideoWriter& writer, int width, int height, int count) {
  for (int i = 0; i < count; ++i) {
    Frame frame = make_frame(width, height, i);
    writer.process(frame);
  }
}

void expect_writes_every_frame(const std::string& extension) {
  const std::string path = testing::make_temp_dir("writer") + "/out" + extension;
  VideoWriter writer(options_for(path, 320, 240));
  write_frames(writer, 320, 240, 24);
  writer.finish();
  EXPECT_EQ(writer.frames_written(), 24);
  EXPECT_EQ(testing::count_frames(path), 24);
  EXPECT_EQ(size_of(path), cv::Size(320, 240));
}

TEST(VideoWriter, WritesEveryFrameToMp4) { expect_writes_every_frame(".mp4"); }

TEST(VideoWriter, WritesEveryFrameToMkv) { expect_writes_every_frame(".mkv"); }

// A live source that falls behind skips frames, so the gaps between timestamps vary. With
// B-frames, x264 and mp4mux then placed the first frames before the file's start, and players
// skipped them.
TEST(VideoWriter, KeepsEveryFrameWhenTimestampGapsAreUneven) {
  const std::string path = testing::make_temp_dir("writer") + "/uneven.mp4";
  VideoWriterOptions options = options_for(path, 320, 240);
  options.speed_preset = "veryfast";
  VideoWriter writer(options);
  const std::int64_t steps[] = {1, 1, 1, 2, 6, 4, 4, 3, 6, 1, 5, 2, 3, 4, 1, 1, 6, 2};
  std::int64_t tick = 0;
  for (std::int64_t i = 0; i < 30; ++i) {
    Frame frame = make_frame(320, 240, i);
    frame.pts_ns = 4'000'000 + tick * 40'000'000;
    tick += steps[i % std::size(steps)];
    writer.process(frame);
  }
  writer.finish();
  EXPECT_EQ(testing::count_frames(path), 30);
}

TEST(VideoWriter, WritesOddWidthFramesWithoutShearing) {
  const std::string path = testing::make_temp_dir("writer") + "/odd.mp4";
  VideoWriter writer(options_for(path, 642, 481));
  write_frames(writer, 642, 481, 5);
  writer.finish();

  cv::VideoCapture capture(path);
  ASSERT_TRUE(capture.isOpened());
  cv::Mat image;
  ASSERT_TRUE(capture.read(image));
  ASSERT_EQ(image.size(), cv::Size(642, 481));
  // Rows written with the wrong stride would slide the red/blue edge sideways further down.
  const cv::Vec3b left = image.at<cv::Vec3b>(470, 300);
  const cv::Vec3b right = image.at<cv::Vec3b>(470, 340);
  EXPECT_GT(left[2], 200);
  EXPECT_LT(left[0], 60);
  EXPECT_GT(right[0], 200);
  EXPECT_LT(right[2], 60);
}

TEST(VideoWriter, WritesFramesWithoutTimestampsAtConfiguredRate) {
  const std::string path = testing::make_temp_dir("writer") + "/no-pts.mkv";
  VideoWriter writer(options_for(path, 160, 120));
  for (int i = 0; i < 10; ++i) {
    Frame frame = make_frame(160, 120, i);
    frame.pts_ns = -1;
    frame.duration_ns = -1;
    writer.process(frame);
  }
  writer.finish();
  EXPECT_EQ(testing::count_frames(path), 10);
}

TEST(VideoWriter, SkipsDroppedMarkers) {
  const std::string path = testing::make_temp_dir("writer") + "/gaps.mp4";
  VideoWriter writer(options_for(path, 160, 120));
  for (int i = 0; i < 10; ++i) {
    Frame frame = make_frame(160, 120, i);
    if (i % 3 == 1) {
      frame.image.release();
      frame.status = FrameStatus::kDropped;
    }
    writer.process(frame);
  }
  writer.finish();
  EXPECT_EQ(writer.frames_written(), 7);
  EXPECT_EQ(testing::count_frames(path), 7);
}

TEST(VideoWriter, RejectsFrameOfOtherSizeWithRuntimeError) {
  const std::string path = testing::make_temp_dir("writer") + "/sizes.mp4";
  VideoWriter writer(options_for(path, 160, 120));
  Frame frame = make_frame(320, 240, 0);
  EXPECT_THROW(writer.process(frame), RuntimeError);
}

TEST(VideoWriter, RejectsUnknownExtensionWithConfigErrorNamingPath) {
  const std::string path = testing::make_temp_dir("writer") + "/out.avi";
  try {
    VideoWriter writer(options_for(path, 160, 120));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(".mkv"), std::string::npos) << message;
  }
}

void expect_unwritable(const std::string& path) {
  try {
    VideoWriter writer(options_for(path, 160, 120));
    FAIL() << "expected ConfigError for " << path;
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("--output"), std::string::npos) << message;
  }
}

TEST(VideoWriter, RejectsPathInMissingFolderWithConfigError) {
  expect_unwritable(testing::make_temp_dir("writer") + "/missing/out.mp4");
}

TEST(VideoWriter, RejectsUnwritableFolderWithConfigError) {
  expect_unwritable("/proc/lookout.mp4");
}

// /dev/full accepts the open and fails every write with ENOSPC, like a disk that fills up mid-run.
TEST(VideoWriter, ReportsFullDiskNamingElementAndFileAndStillFinishesPromptly) {
  const std::string path = testing::make_temp_dir("writer") + "/full.mp4";
  std::filesystem::create_symlink("/dev/full", path);
  VideoWriterOptions options = options_for(path, 320, 240);
  options.finish_timeout = std::chrono::seconds(60);
  VideoWriter writer(options);

  std::string message;
  try {
    for (int i = 0; i < 500; ++i) {
      Frame frame = make_frame(320, 240, i);
      writer.process(frame);
    }
  } catch (const RuntimeError& error) {
    message = error.what();
  }
  const auto started = std::chrono::steady_clock::now();
  try {
    writer.finish();
  } catch (const RuntimeError& error) {
    if (message.empty()) message = error.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("filesink"), std::string::npos) << message;
}

TEST(VideoWriter, FinishesWithoutFramesPromptly) {
  const std::string path = testing::make_temp_dir("writer") + "/empty.mp4";
  VideoWriter writer(options_for(path, 160, 120));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_NO_THROW(writer.finish());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(writer.frames_written(), 0);
}

TEST(VideoWriter, FinishTwiceIsHarmless) {
  const std::string path = testing::make_temp_dir("writer") + "/twice.mkv";
  VideoWriter writer(options_for(path, 160, 120));
  write_frames(writer, 160, 120, 3);
  writer.finish();
  EXPECT_NO_THROW(writer.finish());
  EXPECT_EQ(testing::count_frames(path), 3);
}

TEST(VideoWriter, WritesPlayableFileWhenDestroyedWithoutFinish) {
  const std::string path = testing::make_temp_dir("writer") + "/abandoned.mp4";
  {
    VideoWriter writer(options_for(path, 160, 120));
    write_frames(writer, 160, 120, 12);
  }
  EXPECT_EQ(testing::count_frames(path), 12);
}

// Frames straight from the capture layer (borrowed GStreamer memory, stream stride) go to the
// encoder without copying; the source is destroyed before the encoder is done with them.
void expect_reencodes_first_frames(int width, int height) {
  const std::string dir = testing::make_temp_dir("writer");
  const std::string input = dir + "/input.mp4";
  testing::generate_clip(input, width, height, 40, 25, "smpte");
  const std::string path = dir + "/early.mp4";

  SourceOptions source_options;
  source_options.input = input;
  auto source = open_source(source_options);
  const StreamInfo info = source->info();
  VideoWriterOptions options = options_for(path, info.width, info.height);
  options.fps_num = info.fps_num;
  options.fps_den = info.fps_den;
  VideoWriter writer(options);
  for (int i = 0; i < 15; ++i) {
    Frame frame;
    std::string error;
    ASSERT_EQ(source->read(frame, error), Source::Read::kFrame) << error;
    writer.process(frame);
  }
  source.reset();
  writer.finish();
  EXPECT_EQ(testing::count_frames(path), 15);
  EXPECT_EQ(size_of(path), cv::Size(width, height));
}

TEST(VideoWriter, WritesPlayableFileAfterSourceEndedEarly) {
  expect_reencodes_first_frames(320, 240);
}

TEST(VideoWriter, WritesPlayableFileFromPaddedSourceRows) {
  expect_reencodes_first_frames(642, 480);
}

TEST(VideoWriter, WritesRegionOfLargerImageWithoutShearing) {
  const std::string path = testing::make_temp_dir("writer") + "/region.mkv";
  VideoWriter writer(options_for(path, 320, 240));
  for (int i = 0; i < 3; ++i) {
    // The region's rows are 400 pixels apart in memory, not 320.
    Frame whole = make_frame(400, 300, i);
    whole.image.setTo(cv::Scalar(0, 255, 0));
    Frame frame = make_frame(320, 240, i);
    frame.image.copyTo(whole.image(cv::Rect(40, 30, 320, 240)));
    frame.image = whole.image(cv::Rect(40, 30, 320, 240));
    ASSERT_FALSE(frame.image.isContinuous());
    writer.process(frame);
  }
  writer.finish();

  cv::VideoCapture capture(path);
  cv::Mat image;
  ASSERT_TRUE(capture.read(image));
  ASSERT_EQ(image.size(), cv::Size(320, 240));
  const cv::Vec3b left = image.at<cv::Vec3b>(220, 140);
  const cv::Vec3b right = image.at<cv::Vec3b>(220, 180);
  EXPECT_GT(left[2], 200);
  EXPECT_LT(left[1], 60);
  EXPECT_GT(right[0], 200);
  EXPECT_LT(right[1], 60);
}

// Standard-definition frames of even size are converted to I420 by OpenCV before the encoder.
// 320 wide has tightly packed planes in GStreamer's layout too; at 644 the half-width chroma rows
// (322 bytes) are not GStreamer's default stride, so the buffer's video meta must carry the real
// one. The file read back must show the colours written: a misplaced or swapped plane, a wrong
// stride or a range error (red at 235) would be far outside these bounds; compression keeps well
// inside them away from edges. (HD goes through videoconvert as BT.709, which OpenCV's reader
// decodes as BT.601, so its colours read back shifted whoever wrote them.)
TEST(VideoWriter, WritesTheColoursItIsGivenInStandardDefinition) {
  for (const cv::Size size : {cv::Size(320, 240), cv::Size(644, 240)}) {
    const std::string path = testing::make_temp_dir("writer") + "/colours.mp4";
    VideoWriter writer(options_for(path, size.width, size.height));
    write_frames(writer, size.width, size.height, 3);
    writer.finish();

    cv::VideoCapture capture(path);
    ASSERT_TRUE(capture.isOpened());
    cv::Mat image;
    ASSERT_TRUE(capture.read(image));
    ASSERT_EQ(image.size(), size);
    const int h = size.height, w = size.width;
    const cv::Scalar red = cv::mean(image(cv::Rect(w / 8, h / 2, w / 4, h / 3)));
    const cv::Scalar blue = cv::mean(image(cv::Rect(w * 5 / 8, h / 2, w / 4, h / 3)));
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(red[c], c == 2 ? 255 : 0, 12) << size << " channel " << c;
      EXPECT_NEAR(blue[c], c == 0 ? 255 : 0, 12) << size << " channel " << c;
    }
  }
}

TEST(VideoWriter, EncodesWidelyPlayable420Chroma) {
  const std::string path = testing::make_temp_dir("writer") + "/chroma.mp4";
  VideoWriter writer(options_for(path, 160, 120));
  write_frames(writer, 160, 120, 3);
  writer.finish();
  const testing::ProcessResult probe =
      testing::run_process({"gst-launch-1.0", "-v", "filesrc", "location=" + path, "!", "qtdemux",
                            "!", "h264parse", "!", "fakesink"},
                           std::chrono::seconds(60));
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  EXPECT_NE(probe.out.find("chroma-format=(string)4:2:0"), std::string::npos) << probe.out;
}

}  // namespace
}  // namespace lookout
