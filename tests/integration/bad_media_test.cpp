// Broken and unusual media through `lookout run`: files that are empty, cut short, only a header,
// misnamed or audio only; frames of 1x1, odd and 8K sizes; gray, alpha and 10-bit pixels; a
// varying frame rate; a file that is not a cascade; outputs that cannot be written or that fill
// the disk. Each case: no crash and no hang, the documented exit code, a message that names the
// input and says what to do, and what was written before a fault still plays. Every clip is
// generated here with gst-launch-1.0.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/jsonl.h"
#include "support/media.h"
#include "support/process.h"
#include "support/run_checks.h"

namespace lookout {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

// Only a hang takes this long; the 8K case is the slowest, a few seconds in a release build.
constexpr auto kTimeout = std::chrono::seconds(300);

int clip_frames() { return testing::short_run() ? 3 : 5; }

// Copies the first `bytes` bytes of `from` to `to`: a file cut off as by an interrupted copy.
void copy_prefix(const std::string& from, const std::string& to, std::uintmax_t bytes) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::resize_file(to, bytes);
}

// The run on an mp4 with no index (its moov is missing: cut off, or never written) ended as such a
// file should: exit code 1, naming the input and asking whether it is complete.
void expect_unopenable_mp4(const ProcessResult& result, const std::string& input) {
  // With other tests running, GStreamer's mp4 demuxer sometimes stops on such a file without
  // posting its error (its thread waits, paused; seen mostly under ThreadSanitizer, and once in a
  // release build). lookout then gives up at the open timeout: still exit code 1 and a message
  // naming the input, just slower and vaguer.
  if (result.err.find("gave no frame within") != std::string::npos) {
    testing::expect_error(result, 1, {"input '" + input + "' gave no frame within"});
    return;
  }
  testing::expect_error(result, 1, {"cannot open input '" + input + "'", "is it a complete video file"});
}

// A tmpfs of its own for one test, unmounted when the test ends. Tests run as root, whom no file
// permission stops; a mount gives a disk that is read-only, or small enough to fill.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& options, unsigned long flags)
      : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", flags, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// The first frame of `path` as OpenCV's own FFmpeg decoding sees it (8-bit BGR), independently of
// lookout's capture.
cv::Mat first_frame(const std::string& path) {
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  cv::Mat image;
  if (capture.isOpened()) capture.read(image);
  return image;
}

// Mean absolute difference per channel value over the bottom half of two pictures, away from the
// annotator's overlay (frame number and time, top left); 255 if they cannot be compared.
double bottom_half_difference(const cv::Mat& a, const cv::Mat& b) {
  if (a.empty() || a.size() != b.size() || a.type() != b.type()) return 255.0;
  const cv::Rect bottom(0, a.rows / 2, a.cols, a.rows - a.rows / 2);
  return cv::norm(a(bottom), b(bottom), cv::NORM_L1) /
         static_cast<double>(bottom.area() * a.channels());
}

// `input` through one detector into `video` and `metadata`.
ProcessResult run_to(const std::string& input, const std::string& video,
                     const std::string& metadata, const std::string& detector = "none",
                     const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"run",      "--input", input,        "--detector", detector,
                                "--output", video,     "--metadata", metadata};
  args.insert(args.end(), extra.begin(), extra.end());
  return testing::run_lookout(args, kTimeout);
}

class BadMedia : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("bad-media"); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string video() const { return path("out.mkv"); }
  std::string metadata() const { return path("out.jsonl"); }

  std::string write_file(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

  // `input` through one detector into out.mkv (which stays playable if cut off) and out.jsonl.
  ProcessResult run(const std::string& input, const std::string& detector = "none",
                    const std::vector<std::string>& extra = {}) const {
    return run_to(input, video(), metadata(), detector, extra);
  }

  // The run processed every one of `frames` frames, and the video it wrote plays them all.
  void expect_all_processed(const ProcessResult& result, int frames) const {
    testing::expect_no_crash(result);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto lines = testing::read_jsonl(metadata());
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(frames));
    for (const auto& line : lines) EXPECT_EQ(line["status"], "ok") << line;
    EXPECT_EQ(testing::count_frames(video()), frames);
  }

  std::string dir_;
};

TEST_F(BadMedia, EmptyFileIsARuntimeErrorSayingItIsEmpty) {
  const std::string empty = write_file("empty.mp4", "");
  testing::expect_error(run(empty), 1,
                        {"input '" + empty + "' is empty (0 bytes)", "name a complete video file"});
  EXPECT_FALSE(fs::exists(video())) << "an input that does not open leaves no output";
}

TEST_F(BadMedia, HeaderOnlyFilesAreRuntimeErrorsNamingThem) {
  // The first 4 KiB of an mp4: the start of its frames, without the index (moov) at its end.
  const std::string whole = path("whole.mp4");
  testing::generate_clip(whole, 160, 120, 10);
  const std::string head = path("head.mp4");
  copy_prefix(whole, head, 4096);
  expect_unopenable_mp4(run(head), head);

  // An mkv with a video track and not one frame: all header.
  const std::string no_frames = path("no-frames.mkv");
  testing::gst_launch(
      "videotestsrc num-buffers=0 ! video/x-raw,format=I420,width=160,height=120,framerate=25/1 "
      "! matroskamux ! filesink location=" +
      no_frames);
  testing::expect_error(
      run(no_frames), 1,
      {"input '" + no_frames + "' ended before its first frame", "check that it is complete"});
  EXPECT_FALSE(fs::exists(video()));
}

// What a container does when cut off part-way.
enum class WhenCut {
  kDoesNotOpen,    // the index is at the end, so nothing can be read (an ordinary mp4)
  kWarnsCutShort,  // the frames before the cut are read, and the header says more were due
  kEndsAtTheCut,   // the frames before the cut are read; nothing tells the cut from an end (avi)
};

struct Container {
  std::string name;
  std::string extension;
  std::string encoder;  // from raw video to the muxer, for gst-launch-1.0
  WhenCut when_cut;
};

void PrintTo(const Container& container, std::ostream* out) { *out << container.name; }

class CutInput : public ::testing::TestWithParam<Container> {};

TEST_P(CutInput, EndsCleanlyWithTheFramesBeforeTheCutPlayableOrAClearError) {
  const Container& container = GetParam();
  constexpr int kWholeFrames = 30;
  const std::string dir = testing::make_temp_dir("cut");
  const std::string whole = dir + "/whole" + container.extension;
  testing::gst_launch("videotestsrc num-buffers=" + std::to_string(kWholeFrames) +
                      " ! video/x-raw,width=160,height=120,framerate=25/1 ! videoconvert ! " +
                      container.encoder + " ! filesink location=" + whole);
  const auto size = fs::file_size(whole);
  const std::vector<int> percents =
      testing::short_run() ? std::vector<int>{50} : std::vector<int>{10, 50, 90};
  for (const int percent : percents) {
    SCOPED_TRACE(std::to_string(percent) + "% of " + container.name);
    const std::string cut = dir + "/cut" + std::to_string(percent) + container.extension;
    copy_prefix(whole, cut, size * static_cast<unsigned>(percent) / 100);
    const std::string video = dir + "/out" + std::to_string(percent) + ".mkv";
    const std::string metadata = dir + "/out" + std::to_string(percent) + ".jsonl";
    const ProcessResult result = run_to(cut, video, metadata);
    if (container.when_cut == WhenCut::kDoesNotOpen) {
      expect_unopenable_mp4(result, cut);
      EXPECT_FALSE(fs::exists(video));
      continue;
    }
    testing::expect_no_crash(result);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const auto lines = testing::read_jsonl(metadata);
    EXPECT_GT(lines.size(), 0u);
    EXPECT_LT(lines.size(), static_cast<std::size_t>(kWholeFrames));
    EXPECT_EQ(testing::count_frames(video), static_cast<std::int64_t>(lines.size()));
    if (container.when_cut == WhenCut::kWarnsCutShort) {
      const std::string warning = "lookout: warning: input '" + cut + "' ended after " +
                                  std::to_string(lines.size()) + " of the " +
                                  std::to_string(kWholeFrames) + " frames its header announces";
      EXPECT_NE(result.err.find(warning), std::string::npos) << result.err;
      EXPECT_NE(result.err.find("may be cut short"), std::string::npos) << result.err;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Containers, CutInput,
    ::testing::Values(
        Container{"mp4", ".mp4", "x264enc speed-preset=ultrafast ! h264parse ! mp4mux",
                  WhenCut::kDoesNotOpen},
        Container{"faststart_mp4", ".mp4",
                  "x264enc speed-preset=ultrafast ! h264parse ! mp4mux faststart=true",
                  WhenCut::kWarnsCutShort},
        Container{"avi", ".avi", "jpegenc ! avimux", WhenCut::kEndsAtTheCut}),
    [](const ::testing::TestParamInfo<Container>& param) { return param.param.name; });

TEST_F(BadMedia, VideoUnderAWrongExtensionIsDecodedByItsContent) {
  const int frames = clip_frames();
  // An mp4 named .avi, and an MJPEG avi named .txt.
  for (const auto& [made, named] :
       {std::pair{"clip.mp4", "mp4-clip.avi"}, std::pair{"clip.avi", "avi-clip.txt"}}) {
    SCOPED_TRACE(named);
    testing::generate_clip(path(made), 160, 120, frames);
    fs::rename(path(made), path(named));
    expect_all_processed(run(path(named)), frames);
  }
}

TEST_F(BadMedia, AudioOnlyFileIsARuntimeErrorSayingItHasNoVideo) {
  const std::string audio = path("tone.ogg");
  testing::gst_launch(
      "audiotestsrc num-buffers=20 ! audioconvert ! vorbisenc ! oggmux ! "
      "filesink location=" +
      audio);
  testing::expect_error(
      run(audio), 1, {"input '" + audio + "' has no video stream", "name an input that has video"});
  EXPECT_FALSE(fs::exists(video()));
}

TEST_F(BadMedia, OnePixelAndOddSizedVideosGoThroughADetector) {
  const int frames = clip_frames();
  for (const auto& [width, height] : {std::pair{1, 1}, std::pair{161, 97}}) {
    SCOPED_TRACE(std::to_string(width) + "x" + std::to_string(height));
    const std::string clip = path("clip.mkv");
    testing::generate_clip(clip, width, height, frames);
    expect_all_processed(run(clip, "hog"), frames);
    const cv::Mat written = first_frame(video());
    EXPECT_EQ(written.cols, width);
    EXPECT_EQ(written.rows, height);
  }
}

TEST_F(BadMedia, EightKFramesAreProcessedWithinBoundedMemory) {
  const int frames = testing::short_run() ? 1 : 2;
  const std::string clip = path("8k.mkv");
  testing::gst_launch(
      "videotestsrc num-buffers=" + std::to_string(frames) +
      " ! video/x-raw,format=I420,width=7680,height=4320,framerate=25/1"
      " ! x264enc speed-preset=ultrafast threads=1 ! h264parse ! matroskamux ! filesink location=" +
      clip);
  expect_all_processed(run(clip, "none", {"--workers", "1"}), frames);
#if !LOOKOUT_TSAN  // ThreadSanitizer keeps shadow memory of several times what its code touches
  // The largest any child of this test reached (gst-launch or lookout). A release build peaks at
  // about 1.4 GB, some 14 frames of 100 MB: the decoder's reference frames, the frames in flight
  // and the encoder's; the bound leaves room for AddressSanitizer's overhead, not for frames that
  // are copied at every stage or held beyond their bounds.
  rusage usage{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &usage), 0);
  EXPECT_LT(usage.ru_maxrss, 3L * 1024 * 1024) << "peak resident KiB";
#endif
}

TEST_F(BadMedia, GrayAlphaAndTenBitSourcesAreConvertedAndProcessed) {
  const int frames = clip_frames();
  const std::string caps = ",width=320,height=240,framerate=25/1";
  const std::pair<std::string, std::string> sources[] = {
      {"gray.mkv", "video/x-raw,format=GRAY8" + caps + " ! matroskamux"},
      {"bgra.mkv", "video/x-raw,format=BGRA" + caps + " ! avenc_ffv1 ! matroskamux"},
      {"ten-bit.mkv", "video/x-raw,format=I420_10LE" + caps +
                          " ! x264enc speed-preset=ultrafast ! h264parse ! matroskamux"}};
  for (const auto& [name, encoder] : sources) {
    SCOPED_TRACE(name);
    const std::string clip = path(name);
    testing::gst_launch("videotestsrc num-buffers=" + std::to_string(frames) + " pattern=smpte ! " +
                        encoder + " ! filesink location=" + clip);
    expect_all_processed(run(clip, "hog"), frames);
    // The picture came through the conversion: lookout's video shows what OpenCV decodes from
    // the input (up to the loss of encoding it again).
    EXPECT_LT(bottom_half_difference(first_frame(clip), first_frame(video())), 8.0);
  }
}

TEST_F(BadMedia, VariableFrameRateFileKeepsItsOwnTimestamps) {
  // Eleven frames 40 ms apart, then nine 200 ms apart (the second part starts where the first
  // ends), in an mkv that states no frame rate (0/1).
  const std::string clip = path("vfr.mkv");
  testing::gst_launch(
      "concat name=c ! capssetter caps=\"video/x-raw,framerate=0/1\" ! videoconvert ! "
      "x264enc speed-preset=ultrafast ! h264parse ! matroskamux ! filesink location=" +
      clip +
      " videotestsrc num-buffers=10 ! video/x-raw,width=160,height=120,framerate=25/1 ! c."
      " videotestsrc num-buffers=10 pattern=ball"
      " ! video/x-raw,width=160,height=120,framerate=5/1 ! c.");
  expect_all_processed(run(clip), 20);
  const auto lines = testing::read_jsonl(metadata());
  ASSERT_EQ(lines.size(), 20u);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const double step = lines[i]["pts"].get<double>() - lines[i - 1]["pts"].get<double>();
    EXPECT_NEAR(step, i <= 10 ? 0.04 : 0.2, 0.002) << "between seq " << i - 1 << " and " << i;
  }
}

TEST_F(BadMedia, AFileThatIsNotACascadeIsAConfigErrorNamingIt) {
  const std::string hint = "/usr/share/opencv4/haarcascades";
  const std::string notes = write_file("notes.xml", "these are notes, not a cascade\n");
  testing::expect_error(run(path("clip.mp4"), "cascade", {"--cascade", notes}), 2,
                        {"cascade '" + notes + "' is not a valid Haar or LBP cascade XML", hint});

  // The same through a pipeline file's key, with random bytes for the cascade.
  std::mt19937 random(11);
  std::string bytes(16 * 1024, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(random());
  const std::string garbage = write_file("garbage.xml", bytes);
  const std::string pipeline = write_file(
      "faces.yaml", "input: " + path("clip.mp4") +
                        "\nstages:\n  - detector: cascade\n    cascade: " + garbage + "\n");
  testing::expect_error(testing::run_lookout({"run", pipeline}, kTimeout), 2,
                        {"stage 1 (cascade)", "cascade '" + garbage + "' is not a valid", hint});
}

TEST_F(BadMedia, OutputsUnderARegularFileAreConfigErrorsNamingThem) {
  const std::string clip = path("clip.mp4");
  testing::generate_clip(clip, 160, 120, clip_frames());
  const std::string file = write_file("plain-file", "x");
  const std::string under_file = file + "/out.mkv";
  testing::expect_error(
      run_to(clip, under_file, metadata()), 2,
      {"output '" + under_file + "'", "Not a directory", "choose a writable path with --output"});
  const std::string jsonl_under_file = file + "/out.jsonl";
  testing::expect_error(run_to(clip, video(), jsonl_under_file), 2,
                        {"output '" + jsonl_under_file + "'", "Not a directory",
                         "choose a writable path with --metadata"});
}

TEST_F(BadMedia, OutputsOnAReadOnlyDiskAreConfigErrorsNamingThem) {
  const TmpfsMount disk(path("read-only"), "size=64k", MS_RDONLY);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  const std::string clip = path("clip.mp4");
  testing::generate_clip(clip, 160, 120, clip_frames());
  const std::string on_disk = disk.dir() + "/out.mkv";
  testing::expect_error(run_to(clip, on_disk, metadata()), 2,
                        {"cannot write output '" + on_disk + "'", "Read-only file system",
                         "choose a writable path with --output"});
  const std::string jsonl_on_disk = disk.dir() + "/out.jsonl";
  testing::expect_error(run_to(clip, video(), jsonl_on_disk), 2,
                        {"cannot write metadata '" + jsonl_on_disk + "'", "Read-only file system",
                         "choose a writable path with --metadata"});
}

TEST_F(BadMedia, FullDiskEndsTheRunWithExitOneAndLeavesWhatWasWrittenPlayable) {
  // 80 frames of noise, which compresses badly: some 900 KB of video for a 512 KB disk.
  constexpr int kFrames = 80;
  const std::string clip = path("snow.mkv");
  testing::generate_clip(clip, 320, 240, kFrames, 25, "snow");
  const TmpfsMount disk(path("small-disk"), "size=512k", 0);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
  const std::string video = disk.dir() + "/out.mkv";
  const std::string metadata = disk.dir() + "/out.jsonl";
  const ProcessResult result = run_to(clip, video, metadata);
  testing::expect_error(result, 1,
                        {"the disk is full", "free space on it or write to another disk"});
  EXPECT_TRUE(result.err.find("'" + video + "'") != std::string::npos ||
              result.err.find("'" + metadata + "'") != std::string::npos)
      << "the message names neither output:\n"
      << result.err;
  // An .mkv cut off by the full disk plays up to its last cluster; the metadata keeps whole lines
  // only (read_jsonl would throw on a line cut in two).
  EXPECT_GT(testing::count_frames(video), 0);
  const auto lines = testing::read_jsonl(metadata);
  EXPECT_GT(lines.size(), 0u);
  EXPECT_LT(lines.size(), static_cast<std::size_t>(kFrames)) << "the run went on after the failure";
}

}  // namespace
}  // namespace lookout
