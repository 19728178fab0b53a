// lookout-rtsp-test-server: serves a test pattern or a video file over RTSP on 127.0.0.1 until it
// is interrupted, for benchmarks and trying live input by hand.
//
//   lookout-rtsp-test-server [--port N] [--user U --password P] [--size WxH] [--fps N]
//                            [test:PATTERN | FILE]
//
// A pattern (default test:ball) is a live feed shared by every client, 640x480 at 25 fps unless
// --size and --fps say otherwise; a file
// is decoded and re-encoded to H.264 and played from its start for each client. The URL to give
// lookout is printed on stdout.

#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/core.h>
#include <gst/gst.h>
#include <unistd.h>

#include "support/rtsp_server.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

int usage() {
  std::fputs("usage: lookout-rtsp-test-server [--port N] [--user U --password P] "
             "[--size WxH] [--fps N] [test:PATTERN | FILE]\n", stderr);
  return 2;
}

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
    settings.launch = fmt::format(
        "( filesrc location=\"{}\" ! decodebin ! videoconvert ! {} )", input, encode);
    settings.shared = false;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
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
  while (g_stop == 0) ::usleep(100'000);
  server.stop();
  return 0;
}
