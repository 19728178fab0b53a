#include "support/media.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <opencv2/videoio.hpp>

#include "support/process.h"

namespace lookout::testing {
namespace fs = std::filesystem;

std::string sample_path(const std::string& name) {
  const fs::path path = fs::path(LOOKOUT_SAMPLES_DIR) / name;
  if (!fs::exists(path)) {
    ADD_FAILURE() << "sample " << path << " is missing; run samples/fetch first";
  }
  return path.string();
}

bool short_run() {
  const char* value = std::getenv("LOOKOUT_TEST_SHORT");
  return value != nullptr && *value != '\0' && std::string(value) != "0";
}

std::string make_temp_dir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const fs::path base = fs::temp_directory_path() / "lookout-tests";
  fs::create_directories(base);
  const fs::path dir = base / fmt::format("{}-{}-{}", prefix, ::getpid(), counter++);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

namespace {
std::string muxer_for(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".mp4") return "x264enc speed-preset=ultrafast ! h264parse ! mp4mux";
  if (ext == ".mkv") return "x264enc speed-preset=ultrafast ! h264parse ! matroskamux";
  if (ext == ".avi") return "jpegenc ! avimux";
  throw std::runtime_error("generate_clip: unknown extension " + ext);
}
}  // namespace

void gst_launch(const std::string& description) {
  std::vector<std::string> argv{"gst-launch-1.0", "-q"};
  // gst-launch takes the description as separate words; split on spaces (paths have none here).
  std::string word;
  for (char c : description) {
    if (c == ' ') {
      if (!word.empty()) argv.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) argv.push_back(word);
  const ProcessResult result = run_process(argv, std::chrono::seconds(120));
  if (result.exit_code != 0) {
    throw std::runtime_error("gst-launch-1.0 failed: " + description + "\n" + result.err + result.out);
  }
}

void generate_clip(const std::string& path, int width, int height, int frames, int fps,
                   const std::string& pattern) {
  gst_launch(fmt::format(
      "videotestsrc num-buffers={} pattern={} ! video/x-raw,width={},height={},framerate={}/1 ! "
      "videoconvert ! {} ! filesink location={}",
      frames, pattern, width, height, fps, muxer_for(path), path));
}

void cut_clip(const std::string& source, const std::string& path, int frames) {
  // Decoding with OpenCV and re-encoding with GStreamer keeps exactly the first `frames` frames.
  cv::VideoCapture capture(source);
  if (!capture.isOpened()) throw std::runtime_error("cut_clip: cannot open " + source);
  const double fps = capture.get(cv::CAP_PROP_FPS);
  cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps > 0 ? fps : 25.0,
                         cv::Size(static_cast<int>(capture.get(cv::CAP_PROP_FRAME_WIDTH)),
                                  static_cast<int>(capture.get(cv::CAP_PROP_FRAME_HEIGHT))));
  if (!writer.isOpened()) throw std::runtime_error("cut_clip: cannot write " + path);
  cv::Mat image;
  for (int i = 0; i < frames && capture.read(image); ++i) writer.write(image);
}

std::int64_t count_frames(const std::string& path) {
  // FFmpeg alone: on a file it cannot open, OpenCV would go on to try every other backend, and the
  // camera ones leak what they allocate on that path (which LeakSanitizer then reports).
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return -1;
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  if (!capture.isOpened()) return -1;
  std::int64_t count = 0;
  while (capture.grab()) ++count;
  return count;
}

}  // namespace lookout::testing
