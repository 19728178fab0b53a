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
//   server.set_stalled(true);             // connections stay open, but no frame is sent
//   server.set_stalled(false);            // frames flow again
//   server.stop();                        // clients see the server go away
//   server.start();                       // serves again on the same port, like a restarted camera
//
// start() blocks until the server listens (or throws std::runtime_error); stop() blocks until the
// server's thread has ended and every client connection is closed. The destructor stops it.
// Thread safety: start(), stop(), port() and url() from one thread; set_stalled() from any; the
// server runs on its own thread.

#include <memory>
#include <string>

namespace lookout::testing {

class RtspServer {
 public:
  // The name of the `valve` element in a launch line that set_stalled() closes and opens.
  static constexpr const char* kStallValve = "stall";

  // A live 320x240 ball at 25 fps, H.264, one key frame a second; it can be stalled.
  static constexpr const char* kBallH264 =
      "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
      "! valve name=stall ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
      "! rtph264pay name=pay0 pt=96 )";

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

  // After a stop(), start() listens on the port it had before (unless Settings::port names one).
  void start();
  void stop();

  // Stalls or resumes the stream: every `valve name=stall` in the media, now and in media made
  // later (a client that reconnects gets new media), drops or passes what comes through it.
  // The connections stay open. Has no effect on a launch line without such a valve.
  void set_stalled(bool stalled);

  int port() const;           // 0 when stopped
  std::string url() const;    // rtsp://127.0.0.1:PORT/test, without credentials

  // url() with `user:password@` inserted (for building test inputs).
  std::string url_with(const std::string& user, const std::string& password) const;

 private:
  struct Running;
  struct Stall;
  Settings settings_;
  int last_port_ = 0;
  std::unique_ptr<Stall> stall_;  // outlives every server, whose media-configure handler uses it
  std::unique_ptr<Running> running_;
};

}  // namespace lookout::testing
