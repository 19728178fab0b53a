#pragma once
// A Source over GStreamer. What the input names picks the front of the capture pipeline; every
// kind ends in the same chain:
//
//   <front> ! videoconvert ! video/x-raw,format=BGR ! appsink
//
//   samples/data/vtest.avi, file://, http(s)://   uridecodebin uri=...                (a file)
//   rtsp://[user:password@]host[:port]/path       uridecodebin; rtspsrc gets `transport` and
//                                                 `latency_ms` through "source-setup"   (live)
//   test:  test:PATTERN  (test:ball, test:smpte)  videotestsrc is-live=true pattern=PATTERN,
//                                                 width x height at fps (640x480 at 25)  (live)
//   /dev/videoN                                   v4l2src device=/dev/videoN, with caps for
//                                                 width, height and fps when given       (live)
//   gst:DESCRIPTION                               a GStreamer source description, e.g.
//                                                 gst:videotestsrc num-buffers=50 ! video/x-raw,width=320,height=240
//                                                 (live if it says so: it does not preroll)
//
// open_source() builds the pipeline and waits (up to `open_timeout`) for the first decoded frame:
// a file prerolls in PAUSED; a live source cannot, so it goes to PLAYING and its first sample is
// kept for the first read(). Size and frame rate come from that frame's caps; a file also reports
// its duration, and frame count as duration x rate; a live source reports -1 for both.
// Each frame wraps the mapped GStreamer buffer without copying: the frame's `owner` keeps the
// sample mapped until the frame dies, and the row stride comes from the stream, so odd widths work.
//
// Pacing and back-pressure: appsink holds at most `max_buffers` decoded frames. For a file it then
// blocks decoding, so no frame is lost, and frames come as fast as they are taken. With `realtime`
// a file is replayed at its own rate (the pipeline clock paces the sink) and reported as live; it
// still loses no frame here, so any dropping is the consumer's, which counts it. A live source
// never waits for the consumer: a full appsink discards its oldest frame, so a camera or server is
// never stalled (those discards are not counted; the consumer's drops are).
//
// Errors: a missing or unreadable local file or camera device, a bad test pattern, option or gst:
// description are ConfigErrors; a stream GStreamer cannot open, play or decode is a RuntimeError;
// both name the input with any credentials masked (rtsp://***@host/...). A stream that breaks
// mid-way makes read() return kError with GStreamer's message and the element's name.
// Thread safety: read() from one thread; interrupt() from any.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "lookout/core/source.h"

namespace lookout {

// How rtspsrc may carry the media: "auto" tries UDP first and falls back to TCP.
enum class RtspTransport { kAuto, kTcp, kUdp };

struct SourceOptions {
  std::string input;  // a path, a URI, test:[PATTERN], /dev/videoN or gst:DESCRIPTION
  std::chrono::seconds open_timeout{20};
  std::size_t max_buffers = 4;

  // test: and /dev/video only; 0 keeps the default (test: 640x480 at 25 fps; a camera: its own).
  int width = 0;
  int height = 0;
  int fps = 0;

  // rtsp:// only.
  RtspTransport transport = RtspTransport::kAuto;
  int latency_ms = 200;  // rtspsrc's jitter buffer

  // Files only: replay at the file's own frame rate, as if live.
  bool realtime = false;
};

// Opens the input; blocks until its first frame is decoded or `open_timeout` passes. Throws
// ConfigError or RuntimeError as described above.
std::unique_ptr<Source> open_source(const SourceOptions& options);

}  // namespace lookout
