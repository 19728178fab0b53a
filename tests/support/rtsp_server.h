#pragma once
// RtspServer: a real RTSP server on loopback for integration tests, over gst-rtsp-server. It serves
// one GStreamer launch description at rtsp://127.0.0.1:PORT/test (PORT chosen by the system unless given),
// optionally behind basic authentication. The media is shared between clients and made when the
// first client asks for it.
//
//   RtspServer::Settings settings;
//   settings.launch = RtspServer::kBallH264;
//   RtspServer server(settings);
//   server.start();                       // url() now answers
//   ... rtsp://127.0.0.1:<server.port()>/test ...
//   server.stop();                        // clients see the server go away
//   server.start();                       // serves again, usually on a different port
//
// start() blocks until the server listens (or throws std::runtime_error); stop() blocks until the
// server's thread has ended and every client connection is closed. The destructor stops it.
// Thread safety: start(), stop(), port() and url() from one thread; the server runs on its own.

#include <memory>
#include <string>

namespace lookout::testing {

class RtspServer {
 public:
  // A live 320x240 ball at 25 fps, H.264, one key frame a second.
  static constexpr const char* kBallH264 =
      "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! rtph264pay name=pay0 "
      "pt=96 )";

  struct Settings {
    // A gst-rtsp-server launch line: a bin in parentheses whose payloaders are named pay0, pay1...
    std::string launch;
    // If `user` is not empty, only these credentials are accepted (basic authentication).
    std::string user;
    std::string password;
    int port = 0;         // 0: any free port
    bool shared = true;   // one media for all clients (a live feed); false: each client its own
  };

  explicit RtspServer(Settings settings);
  RtspServer(const RtspServer&) = delete;
  RtspServer& operator=(const RtspServer&) = delete;
  ~RtspServer();

  void start();
  void stop();

  int port() const;           // 0 when stopped
  std::string url() const;    // rtsp://127.0.0.1:PORT/test, without credentials

  // url() with `user:password@` inserted (for building test inputs).
  std::string url_with(const std::string& user, const std::string& password) const;

 private:
  struct Running;
  Settings settings_;
  std::unique_ptr<Running> running_;
};

}  // namespace lookout::testing
