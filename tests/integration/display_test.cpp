// The display window, under a virtual X server (Xvfb) that each test starts for itself: the stage
// on its own, the `lookout` command showing a short input and exiting 0, closing the window to
// stop a live run, and the configuration errors without a usable screen.

#include "lookout/output/display.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "lookout/core/error.h"
#include "support/errors.h"
#include "support/media.h"
#include "support/process.h"
#include "support/text_match.h"
#include "support/xvfb.h"

namespace lookout {
namespace {

using testing::config_error;
using testing::ProcessResult;
using testing::run_lookout;
using testing::ScopedEnv;
using testing::Xvfb;

constexpr auto kTimeout = std::chrono::seconds(120);

DisplayOptions options_for(int width, int height) {
  DisplayOptions options;
  options.width = width;
  options.height = height;
  options.title = "test";
  return options;
}

// The numbers of the summary's "showed" line: frames shown and frames dropped.
struct Showed {
  long long shown = -1;
  long long dropped = -1;
  bool closed = false;
};

Showed parse_showed(const std::string& out) {
  const auto match = testing::regex_search(
      out, R"(showed     (\d+) frames in a window \([a-z]+, (\d+) dropped(, closed by the user)?\))");
  Showed showed;
  if (match) {
    showed.shown = std::stoll((*match)[1]);
    showed.dropped = std::stoll((*match)[2]);
    showed.closed = !(*match)[3].empty();
  }
  return showed;
}

TEST(DisplayWindow, ShowsTheFramesItIsGivenAndAccountsForEachOne) {
  Xvfb x;
  ScopedEnv display("DISPLAY", x.display());
  ScopedEnv wayland("WAYLAND_DISPLAY", std::nullopt);
  DisplayWindow window(options_for(320, 240));
  EXPECT_EQ(window.sink_name(), "ximagesink");  // Xvfb has no XVideo
  constexpr int kFrames = 20;
  for (int seq = 0; seq < kFrames; ++seq) {
    Frame frame;
    frame.seq = seq;
    frame.pts_ns = seq * 40'000'000LL;
    frame.image = cv::Mat(240, 320, CV_8UC3, cv::Scalar(0, 0, 255));
    window.process(frame);
  }
  Frame marker;
  marker.seq = kFrames;
  marker.drop(DropCause::kTooOld);
  window.process(marker);
  window.finish();
  EXPECT_FALSE(window.window_closed());
  EXPECT_GT(window.frames_shown(), 0);
  EXPECT_EQ(window.frames_shown() + window.frames_dropped(), kFrames);
}

TEST(DisplayWindow, NeedsAGraphicalSession) {
  ScopedEnv display("DISPLAY", std::nullopt);
  ScopedEnv wayland("WAYLAND_DISPLAY", std::nullopt);
  const std::string message = config_error([] { DisplayWindow window(options_for(320, 240)); });
  EXPECT_NE(message.find("--display needs a graphical session"), std::string::npos) << message;
  EXPECT_NE(message.find("use --restream or --output instead"), std::string::npos) << message;
}

class DisplayCommand : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("display"); }
  std::vector<std::string> args(const std::string& input,
                                std::vector<std::string> extra = {}) const {
    std::vector<std::string> all{"run",        "--input",        input,      "--detector",
                                 "cascade",    "--display",      "--output", dir_ + "/x.mkv",
                                 "--metadata", dir_ + "/x.jsonl"};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }
  std::string dir_;
};

TEST_F(DisplayCommand, ShowsAShortInputInAWindowAndExitsZero) {
  Xvfb x;
  ScopedEnv display("DISPLAY", x.display());
  const int frames = testing::short_run() ? 10 : 40;
  const ProcessResult result =
      run_lookout(args("gst:videotestsrc num-buffers=" + std::to_string(frames) +
                       " ! video/x-raw,width=320,height=240"),
                  kTimeout);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const std::string counts =
      std::to_string(frames) + " in, " + std::to_string(frames) + " processed, 0 dropped";
  EXPECT_NE(result.out.find(counts), std::string::npos) << result.out;
  const Showed showed = parse_showed(result.out);
  EXPECT_GT(showed.shown, 0) << result.out;
  EXPECT_EQ(showed.shown + showed.dropped, frames) << result.out;
  EXPECT_FALSE(showed.closed);
}

TEST_F(DisplayCommand, ClosingTheWindowStopsALiveRunCleanlyLikeCtrlC) {
  Xvfb x;
  ScopedEnv display("DISPLAY", x.display());
  ProcessResult result;
  std::thread command([&] {
    result = run_lookout(args("test:ball", {"--width", "320", "--height", "240"}), kTimeout);
  });
  const bool closed =
      testing::close_window(x.display(), "lookout: test:ball", std::chrono::seconds(60));
  command.join();
  ASSERT_TRUE(closed) << "no lookout window appeared\n" << result.err;
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("(stopped early)"), std::string::npos) << result.out;
  const Showed showed = parse_showed(result.out);
  EXPECT_TRUE(showed.closed) << result.out;
  EXPECT_GT(showed.shown, 0) << result.out;
  EXPECT_GT(testing::count_frames(dir_ + "/x.mkv"), 0);  // the recording was finalised
}

TEST_F(DisplayCommand, WithoutAGraphicalSessionIsAConfigurationError) {
  ScopedEnv display("DISPLAY", std::nullopt);
  ScopedEnv wayland("WAYLAND_DISPLAY", std::nullopt);
  const ProcessResult result = run_lookout(args("test:ball"), kTimeout);
  EXPECT_EQ(result.exit_code, kExitConfigError);
  EXPECT_NE(result.err.find("lookout: error: --display needs a graphical session"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("use --restream or --output instead"), std::string::npos) << result.err;
  EXPECT_EQ(testing::count_frames(dir_ + "/x.mkv"), -1);  // nothing was written
}

TEST_F(DisplayCommand, AScreenThatCannotBeOpenedIsAConfigurationError) {
  std::string unreachable;
  {
    Xvfb x;  // a display number that was just in use and is now free again
    unreachable = x.display();
  }
  ScopedEnv display("DISPLAY", unreachable);
  const ProcessResult result = run_lookout(args("test:ball"), kTimeout);
  EXPECT_EQ(result.exit_code, kExitConfigError);
  EXPECT_NE(result.err.find("--display cannot open a window on DISPLAY=" + unreachable),
            std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace lookout
