// Outputs that survive a crash, and long recordings in segments. A run of the `lookout` command is
// killed with SIGKILL (no handler, no finalising) part-way through a long clip, and what is on the
// disk is read back with OpenCV; segments are checked file by file against the frames the run
// reports. The writer's own checks of the new options are exercised directly.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lookout/core/error.h"
#include "lookout/output/video_writer.h"
#include "support/errors.h"
#include "support/media.h"
#include "support/process.h"

namespace lookout {
namespace {

using namespace std::chrono_literals;
using testing::config_error;
using testing::count_frames;
using testing::run_lookout;

// A clip long enough that a single hog worker is still busy with it when the kill comes, generated
// once for all the kill tests.
class KilledRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::make_temp_dir("killed"));
    input_ = new std::string(*dir_ + "/long.mkv");
    testing::generate_clip(*input_, 320, 240, kInputFrames);
  }
  static void TearDownTestSuite() {
    delete input_;
    delete dir_;
    input_ = dir_ = nullptr;
  }

  // Runs hog with one worker writing `output` and kills it with SIGKILL once the metadata (written
  // after the video, frame by frame) holds kFramesBeforeKill lines: a few clusters or fragments
  // into the run, however slow the machine, and far short of the whole clip.
  static testing::ProcessResult run_and_kill(const std::string& output,
                                             const std::vector<std::string>& extra = {}) {
    const std::string metadata = output + ".jsonl";
    std::vector<std::string> args{"run",      "--input", *input_,      "--detector", "hog", "--workers",
                                  "1",        "--output", output,      "--metadata", metadata};
    args.insert(args.end(), extra.begin(), extra.end());
    std::atomic<bool> due{false};
    std::atomic<bool> finished{false};
    std::thread watcher([&] {
      while (!finished.load() && !due.load()) {
        std::ifstream in(metadata);
        const auto lines = std::count(std::istreambuf_iterator<char>(in), {}, '\n');
        if (lines >= kFramesBeforeKill) due.store(true);
        std::this_thread::sleep_for(20ms);
      }
    });
    testing::SignalPlan plan;
    plan.signal = SIGKILL;
    plan.when = &due;
    auto result = run_lookout(args, std::chrono::seconds(300), plan);
    finished.store(true);
    watcher.join();
    return result;
  }

  static constexpr int kFramesBeforeKill = 75;  // 3 s of the 25 fps clip
  static constexpr int kInputFrames = 2000;
  static std::string* dir_;
  static std::string* input_;
};

std::string* KilledRun::dir_ = nullptr;
std::string* KilledRun::input_ = nullptr;

TEST_F(KilledRun, MkvPlaysUpToTheLastClusterAfterSigkill) {
  const std::string output = *dir_ + "/killed.mkv";
  const auto result = run_and_kill(output);
  ASSERT_EQ(result.signal, SIGKILL)
      << "the run ended before the kill: " << result.out << result.err;
  const std::int64_t frames = count_frames(output);
  EXPECT_GT(frames, 0);
  EXPECT_LT(frames, kInputFrames);
}

TEST_F(KilledRun, FragmentedMp4PlaysUpToTheLastFragmentAfterSigkill) {
  const std::string output = *dir_ + "/killed-fragmented.mp4";
  const auto result = run_and_kill(output, {"--fragment-ms", "500"});
  ASSERT_EQ(result.signal, SIGKILL)
      << "the run ended before the kill: " << result.out << result.err;
  const std::int64_t frames = count_frames(output);
  EXPECT_GT(frames, 0);
  EXPECT_LT(frames, kInputFrames);
}

// The contrast that makes the two above meaningful: an ordinary mp4 keeps its index (moov) until
// the end, so a killed one has frames on the disk but nothing a player can find them with.
TEST_F(KilledRun, OrdinaryMp4IsUnreadableAfterSigkill) {
  const std::string output = *dir_ + "/killed-plain.mp4";
  const auto result = run_and_kill(output);
  ASSERT_EQ(result.signal, SIGKILL)
      << "the run ended before the kill: " << result.out << result.err;
  EXPECT_GT(std::filesystem::file_size(output), 0u) << "nothing was written before the kill";
  // FFmpeg alone: on a file it cannot open, OpenCV would go on to try every other backend, and the
  // camera and GStreamer ones leak what they allocate on that path.
  cv::VideoCapture capture(output, cv::CAP_FFMPEG);
  EXPECT_FALSE(capture.isOpened());
}

// The files of a segmented output, in order: segment_path(path, 0), 1, ... while they exist.
std::vector<std::string> segments_of(const std::string& path) {
  std::vector<std::string> files;
  while (std::filesystem::exists(segment_path(path, static_cast<int>(files.size())))) {
    files.push_back(segment_path(path, static_cast<int>(files.size())));
  }
  return files;
}

// N from the summary's "frames     N in, ..." line; -1 if there is none.
std::int64_t frames_in(const std::string& summary) {
  std::istringstream lines(summary);
  std::string word;
  std::int64_t count = -1;
  while (lines >> word) {
    if (word == "frames" && lines >> count >> word && word == "in,") return count;
  }
  return -1;
}

void expect_segments_hold_every_frame(const std::string& extension) {
  const std::string dir = testing::make_temp_dir("segments");
  const std::string input = dir + "/clip.mkv";
  testing::generate_clip(input, 320, 240, 100, 25);
  const std::string output = dir + "/rec" + extension;
  const auto result = run_lookout({"run", "--input", input, "--detector", "cascade", "--segment",
                                   "1", "--output", output, "--metadata", dir + "/rec.jsonl"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::int64_t reported = frames_in(result.out);
  ASSERT_EQ(reported, 100) << result.out;

  const std::vector<std::string> files = segments_of(output);
  EXPECT_GE(files.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(output)) << "segments replace the single file";
  std::int64_t total = 0;
  for (const auto& file : files) {
    const std::int64_t frames = count_frames(file);
    EXPECT_GT(frames, 0) << file << " is not a playable segment";
    total += std::max<std::int64_t>(frames, 0);
  }
  EXPECT_EQ(total, reported);
}

TEST(SegmentedRun, OneSecondMp4SegmentsAreEachPlayableAndHoldEveryFrame) {
  expect_segments_hold_every_frame(".mp4");
}

TEST(SegmentedRun, OneSecondMkvSegmentsAreEachPlayableAndHoldEveryFrame) {
  expect_segments_hold_every_frame(".mkv");
}

void expect_rejected(const std::vector<std::string>& args, const std::string& named) {
  const auto result = run_lookout(args, std::chrono::seconds(60));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find(named), std::string::npos) << result.err;
}

TEST(CrashSafetyFlags, BadSegmentAndFragmentValuesAreUsageErrorsNamingTheFlag) {
  const std::string dir = testing::make_temp_dir("bad-flags");
  const std::string input = dir + "/clip.mkv";
  testing::generate_clip(input, 160, 120, 5);
  const std::vector<std::string> base{"run", "--input",  input,         "--detector",
                                      "hog", "--output", dir + "/o.mp4"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  expect_rejected(with({"--segment", "0"}), "--segment");
  expect_rejected(with({"--segment", "-3"}), "--segment");
  expect_rejected(with({"--fragment-ms", "-5"}), "--fragment-ms");
  expect_rejected(with({"--segment", "2", "--fragment-ms", "500"}), "fragment_ms");
  expect_rejected({"run", "--input", input, "--detector", "hog", "--output", dir + "/o.mkv",
                   "--fragment-ms", "500"},
                  "fragment_ms");
  EXPECT_FALSE(std::filesystem::exists(dir + "/o.mp4"));
}

TEST(CrashSafetyFlags, PipelineFileKeysAreRangeChecked) {
  const std::string dir = testing::make_temp_dir("bad-keys");
  const std::vector<std::pair<std::string, std::string>> cases{
      {"  segment_seconds: -1\n", "p.yaml:6:20: output: option 'segment_seconds' has value '-1'"},
      {"  fragment_ms: 90000\n", "p.yaml:6:16: output: option 'fragment_ms' has value '90000'"}};
  for (const auto& [line, expected] : cases) {
    const std::string file = dir + "/p.yaml";
    std::ofstream(file) << "input: clip.mkv\n"
                           "stages:\n"
                           "  - detector: hog\n"
                           "output:\n"
                           "  video: out.mp4\n"
                        << line;
    const auto result = run_lookout({"validate", file}, std::chrono::seconds(60));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
  }
}

// The writer on its own, without the command.

VideoWriterOptions options_for(const std::string& path) {
  VideoWriterOptions options;
  options.path = path;
  options.width = 320;
  options.height = 240;
  options.fps_num = 25;
  options.fps_den = 1;
  options.speed_preset = "ultrafast";
  return options;
}

void write_frames(VideoWriter& writer, int count) {
  for (int i = 0; i < count; ++i) {
    Frame frame;
    frame.seq = i;
    frame.pts_ns = i * 40'000'000LL;
    frame.duration_ns = 40'000'000;
    frame.image = cv::Mat(240, 320, CV_8UC3, cv::Scalar(40, 90, 200));
    frame.image(cv::Rect(i * 4 % 280, 100, 40, 40)).setTo(cv::Scalar(250, 250, 250));
    writer.process(frame);
  }
}

TEST(VideoWriterSegments, SegmentPathPutsAFiveDigitIndexBeforeTheExtension) {
  EXPECT_EQ(segment_path("out/x.mp4", 0), "out/x.00000.mp4");
  EXPECT_EQ(segment_path("out/x.annotated.mkv", 12), "out/x.annotated.00012.mkv");
  EXPECT_EQ(segment_path("rec.mp4", 3), "rec.00003.mp4");
}

TEST(VideoWriterSegments, OneSecondSegmentsSplitSixtyFramesIntoPlayableFiles) {
  for (const std::string extension : {".mp4", ".mkv"}) {
    const std::string path = testing::make_temp_dir("writer-segments") + "/rec" + extension;
    VideoWriterOptions options = options_for(path);
    options.segment_seconds = 1;
    VideoWriter writer(options);
    write_frames(writer, 60);
    writer.finish();
    EXPECT_EQ(writer.frames_written(), 60);

    const std::vector<std::string> files = segments_of(path);
    EXPECT_GE(files.size(), 2u) << extension;
    std::int64_t total = 0;
    for (const auto& file : files) {
      const std::int64_t frames = count_frames(file);
      EXPECT_GT(frames, 0) << file;
      total += std::max<std::int64_t>(frames, 0);
    }
    EXPECT_EQ(total, 60) << extension;
  }
}

TEST(VideoWriterSegments, APercentSignInThePathIsKeptLiterally) {
  const std::string path = testing::make_temp_dir("writer-percent") + "/100%d.mkv";
  VideoWriterOptions options = options_for(path);
  options.segment_seconds = 1;
  VideoWriter writer(options);
  write_frames(writer, 30);
  writer.finish();
  EXPECT_EQ(count_frames(segment_path(path, 0)) + count_frames(segment_path(path, 1)), 30);
}

TEST(VideoWriterFragments, FinishedFragmentedMp4HoldsEveryFrame) {
  const std::string path = testing::make_temp_dir("writer-fragments") + "/frag.mp4";
  VideoWriterOptions options = options_for(path);
  options.fragment_ms = 500;
  VideoWriter writer(options);
  write_frames(writer, 50);
  writer.finish();
  EXPECT_EQ(count_frames(path), 50);
}

TEST(VideoWriterOptionsCheck, OutOfRangeAndConflictingValuesAreConfigErrorsNamingTheKey) {
  const std::string dir = testing::make_temp_dir("writer-options");
  auto error_for = [&](const std::string& name, int fragment_ms, int segment_seconds) {
    VideoWriterOptions options = options_for(dir + "/" + name);
    options.fragment_ms = fragment_ms;
    options.segment_seconds = segment_seconds;
    return config_error([&] { VideoWriter writer(options); });
  };
  EXPECT_NE(error_for("a.mp4", -5, 0).find("fragment_ms -5 is out of range"), std::string::npos);
  EXPECT_NE(error_for("a.mp4", kMaxFragmentMs + 1, 0).find("fragment_ms"), std::string::npos);
  EXPECT_NE(error_for("a.mp4", 0, -1).find("segment_seconds -1 is out of range"),
            std::string::npos);
  EXPECT_NE(error_for("a.mp4", 0, kMaxSegmentSeconds + 1).find("segment_seconds"),
            std::string::npos);
  EXPECT_NE(error_for("a.mkv", 500, 0).find("applies to .mp4"), std::string::npos);
  EXPECT_NE(error_for("a.mp4", 500, 2).find("cannot be combined"), std::string::npos);
  EXPECT_EQ(error_for("ok.mp4", 500, 0), "(no error)");
  EXPECT_EQ(error_for("ok.mkv", 0, 5), "(no error)");
}

}  // namespace
}  // namespace lookout
