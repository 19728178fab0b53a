#pragma once
// RtspRestream: a serial stage that serves the frames it sees (usually the annotated ones) as a
// live H.264 stream at rtsp://ADDRESS:PORT/lookout, through gst-rtsp-server. Every client gets the
// same stream (one shared media), made when the first client connects:
//
//   appsrc is-live=true format=time ! videoconvert ! x264enc tune=zerolatency ! rtph264pay
//
// The encoder makes no B-frames and a key frame about every second, so a client joining late
// shows a picture within a second; the payloader repeats SPS/PPS with every key frame.
//
// Lifecycle: the constructor checks the address (an IP address, or "localhost") and binds the
// port, throwing ConfigError that names the address and port and says what to do if it cannot
// (the port is in use, the address is not one of this machine's); the server then listens until
// finish(). process() never waits for a client: without a client it drops the frame at once (no
// encoding); with one, it wraps the image without copying (the buffer holds a reference to the
// cv::Mat and to the frame's owner) and hands it over unless kQueuedFrames are already waiting for
// the encoder, in which case the frame is dropped and counted. Frames keep the spacing of their
// stream timestamps (pts_ns). Dropped and failed markers without an image are skipped. finish()
// ends the stream for the clients, closes their connections and stops the server; the destructor
// does the same if finish() was not called. A client that goes away, or a media that fails, is
// not an error of the run: the stage goes back to dropping frames until the next client.
//
// Threads: the server is driven by GLib's event loop, so the stage owns one thread that runs a
// GMainContext of its own (not the process's default context, which other code may use) from the
// constructor until finish(). The media runs its own GStreamer streaming threads.
// Thread safety: process(), finish() and the accessors from one thread (the pipeline's); the
// counters may be read after the pipeline has joined its threads.

#include <cstdint>
#include <memory>
#include <string>

#include "lookout/core/stage.h"

namespace lookout {

struct RtspRestreamOptions {
  int port = 8554;  // 0: any free port (see RtspRestream::port())
  std::string address = "127.0.0.1";  // 0.0.0.0: every IPv4 interface; :: every interface
  int width = 0;
  int height = 0;
  int fps_num = 25;  // for the caps, and for frames without timestamps
  int fps_den = 1;
};

inline constexpr const char* kRestreamPath = "/lookout";
// Frames that may wait for the encoder before new ones are dropped: enough to ride out a slow
// frame, few enough that the stream stays live.
inline constexpr unsigned kRestreamQueuedFrames = 4;

class RtspRestream : public SerialStage {
 public:
  explicit RtspRestream(RtspRestreamOptions options);
  RtspRestream(const RtspRestream&) = delete;
  RtspRestream& operator=(const RtspRestream&) = delete;
  ~RtspRestream() override;

  std::string name() const override { return "restream"; }
  void process(Frame& frame) override;
  void finish() override;

  int port() const;         // the bound port
  std::string url() const;  // rtsp://ADDRESS:PORT/lookout

  std::int64_t frames_sent() const { return frames_sent_; }        // handed to the encoder
  std::int64_t frames_dropped() const { return frames_dropped_; }  // a client was slow
  std::int64_t frames_unwatched() const { return frames_unwatched_; }  // no client connected
  std::int64_t clients() const;  // connections accepted so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t frames_sent_ = 0;
  std::int64_t frames_dropped_ = 0;
  std::int64_t frames_unwatched_ = 0;
};

}  // namespace lookout
