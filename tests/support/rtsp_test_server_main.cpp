// lookout-rtsp-test-server: serves a test pattern or a video file over RTSP on 127.0.0.1 until it
// is interrupted, for benchmarks, soak runs and trying live input by hand.
//
//   lookout-rtsp-test-server [--port N] [--user U --password P] [--size WxH] [--fps N]
//                            [test:PATTERN | FILE | --as-is FILE | --loop FILE]
//
// A pattern (default test:ball) is a live feed shared by every client, 640x480 at 25 fps unless
// --size and --fps say otherwise; a file
// is decoded and re-encoded to H.264 and played from its start for each client. With --as-is, a
// file that already holds H.264 (mp4, mkv) is served as it is, neither decoded nor encoded, as a
// camera serves what it encoded itself: the server then costs next to nothing, which matters when
// it shares the cores with what it feeds (benchmarks). With --loop, the
// file is played at its own rate over and over, without a break, as one live feed shared by every
// client (like a camera that never ends). The URL to give lookout is printed on stdout.

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/core.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <unistd.h>

#include "support/rtsp_server.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

int usage() {
  std::fputs("usage: lookout-rtsp-test-server [--port N] [--user U --password P] "
             "[--size WxH] [--fps N] [test:PATTERN | FILE | --as-is FILE | --loop FILE]\n",
             stderr);
  return 2;
}

// The file of --loop, decoded in this process at its own rate into an intervideosink, which the
// served media reads with an intervideosrc of the same channel. At the end of the file it seeks
// back to the start; the served side keeps its own clock, so clients see one unbroken stream.
// Blocks only in the constructor (until the first frame is decoded) and in poll().
class LoopingFeed {
 public:
  static constexpr const char* kChannel = "lookout-rtsp-test-server-loop";

  explicit LoopingFeed(const std::string& path) {
    GError* error = nullptr;
    pipeline_ = gst_parse_launch(
        fmt::format("filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=I420 "
                    "! intervideosink name=sink channel={}",
                    path, kChannel)
            .c_str(),
        &error);
    if (pipeline_ == nullptr) {
      const std::string message = error != nullptr ? error->message : "unknown error";
      g_clear_error(&error);
      throw std::runtime_error("cannot play '" + path + "': " + message);
    }
    g_clear_error(&error);
    bus_ = gst_element_get_bus(pipeline_);
    gst_element_set_state(pipeline_, GST_STATE_PAUSED);
    GstMessage* message = gst_bus_timed_pop_filtered(
        bus_, 30 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR));
    const bool ready = message != nullptr && GST_MESSAGE_TYPE(message) == GST_MESSAGE_ASYNC_DONE;
    if (message != nullptr) gst_message_unref(message);
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
    GstPad* pad = gst_element_get_static_pad(sink, "sink");
    GstCaps* caps = gst_pad_get_current_caps(pad);
    const bool known = caps != nullptr && gst_video_info_from_caps(&info_, caps);
    if (caps != nullptr) gst_caps_unref(caps);
    gst_object_unref(pad);
    gst_object_unref(sink);
    if (!ready || !known) {
      close();
      throw std::runtime_error("cannot decode '" + path + "' as video");
    }
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }
  LoopingFeed(const LoopingFeed&) = delete;
  LoopingFeed& operator=(const LoopingFeed&) = delete;
  ~LoopingFeed() { close(); }

  // What the served side must ask of its intervideosrc: the decoded size and rate.
  std::string caps() const {
    const int fps_num = info_.fps_n > 0 ? info_.fps_n : 25;
    const int fps_den = info_.fps_n > 0 ? info_.fps_d : 1;
    return fmt::format("video/x-raw,format=I420,width={},height={},framerate={}/{}", info_.width,
                       info_.height, fps_num, fps_den);
  }

  // Handles the feed's messages for up to `timeout_ms`: rewinds at the end of the file. False,
  // with the reason, if decoding failed.
  bool poll(int timeout_ms, std::string& error) {
    GstMessage* message = gst_bus_timed_pop_filtered(
        bus_, static_cast<GstClockTime>(timeout_ms) * GST_MSECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (message == nullptr) return true;
    bool ok = true;
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
      const auto rewind = static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT);
      gst_element_seek_simple(pipeline_, GST_FORMAT_TIME, rewind, 0);
    } else {
      GError* gerror = nullptr;
      gst_message_parse_error(message, &gerror, nullptr);
      error = gerror != nullptr ? gerror->message : "unknown error";
      g_clear_error(&gerror);
      ok = false;
    }
    gst_message_unref(message);
    return ok;
  }

 private:
  void close() {
    if (pipeline_ == nullptr) return;
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(bus_);
    gst_object_unref(pipeline_);
    pipeline_ = nullptr;
  }

  GstElement* pipeline_ = nullptr;
  GstBus* bus_ = nullptr;
  GstVideoInfo info_{};
};

bool plain_name(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  lookout::testing::RtspServer::Settings settings;
  std::string input = "test:ball";
  bool loop = false;
  bool as_is = false;
  int width = 640, height = 480, fps = 25;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--port" && has_value) {
      settings.port = std::atoi(argv[++i]);
    } else if (arg == "--user" && has_value) {
      settings.user = argv[++i];
    } else if (arg == "--password" && has_value) {
      settings.password = argv[++i];
    } else if (arg == "--as-is" && has_value) {
      as_is = true;
      input = argv[++i];
    } else if (arg == "--loop" && has_value) {
      loop = true;
      input = argv[++i];
    } else if (arg == "--size" && has_value) {
      if (std::sscanf(argv[++i], "%dx%d", &width, &height) != 2 || width <= 0 || height <= 0) return usage();
    } else if (arg == "--fps" && has_value) {
      fps = std::atoi(argv[++i]);
      if (fps <= 0) return usage();
    } else if (arg == "--help" || arg == "-h" || arg.rfind("--", 0) == 0) {
      return usage();
    } else {
      input = arg;
    }
  }
  const std::string encode =
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 pt=96";
  if (input.rfind("test:", 0) == 0) {
    const std::string pattern = input.substr(5).empty() ? "ball" : input.substr(5);
    if (!plain_name(pattern)) return usage();
    settings.launch = fmt::format(
        "( videotestsrc is-live=true pattern={} ! video/x-raw,width={},height={},framerate={}/1 "
        "! {} )", pattern, width, height, fps, encode);
  } else {
    if (::access(input.c_str(), R_OK) != 0) {
      fmt::print(stderr, "lookout-rtsp-test-server: cannot read '{}'\n", input);
      return 2;
    }
    settings.launch =
        as_is ? fmt::format("( filesrc location=\"{}\" ! parsebin ! rtph264pay name=pay0 pt=96 "
                            "config-interval=-1 )",
                            input)
              : fmt::format("( filesrc location=\"{}\" ! decodebin ! videoconvert ! {} )", input,
                            encode);
    settings.shared = false;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::unique_ptr<LoopingFeed> feed;
  if (loop) {
    gst_init(nullptr, nullptr);
    try {
      feed = std::make_unique<LoopingFeed>(input);
    } catch (const std::exception& e) {
      fmt::print(stderr, "lookout-rtsp-test-server: {}\n", e.what());
      return 2;
    }
    settings.launch = fmt::format("( intervideosrc channel={} ! {} ! videoconvert ! {} )",
                                  LoopingFeed::kChannel, feed->caps(), encode);
    settings.shared = true;
  }
  lookout::testing::RtspServer server(settings);
  try {
    server.start();
  } catch (const std::exception& e) {
    fmt::print(stderr, "lookout-rtsp-test-server: {}\n", e.what());
    return 1;
  }
  const std::string url = settings.user.empty()
                              ? server.url()
                              : server.url_with(settings.user, "PASSWORD");
  fmt::print("serving {} at {}\n", input, url);
  std::fflush(stdout);
  while (g_stop == 0) {
    std::string error;
    if (!feed) {
      ::usleep(100'000);
    } else if (!feed->poll(100, error)) {
      fmt::print(stderr, "lookout-rtsp-test-server: playing '{}' failed: {}\n", input, error);
      server.stop();
      return 1;
    }
  }
  server.stop();
  return 0;
}
