#pragma once
// A Source over GStreamer. What the input names picks the front of the capture pipeline; every
// kind ends in the same chain:
//
//   <front> ! videoconvert ! video/x-raw,format=BGRx ! appsink      (repacked to BGR on reading)
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
// Each frame owns its BGR pixels (`owner` is null): read() repacks the decoded BGRx sample into
// a new image (videoconvert's BGRx path is twice as fast as its BGR one, with the same pixels)
// and hands the sample straight back to the decoder's pool.
//
// Pacing and back-pressure: appsink holds at most `max_buffers` decoded frames. For a file it then
// blocks decoding, so no frame is lost, and frames come as fast as they are taken. With `realtime`
// a file is replayed at its own rate (the pipeline clock paces the sink) and reported as live; it
// still loses no frame here, so any dropping is the consumer's, which counts it. A live source
// never waits for the consumer: a full appsink discards its oldest frame, so a camera or server is
// never stalled (those discards are not counted; the consumer's drops are).
//
// Reconnection: a live network or device input (rtsp://, an http(s):// stream that opens live,
// /dev/videoN, a gst: description that opens live; not test: patterns, files or realtime files)
// that is lost once streaming (its pipeline posts an error, reaches end of stream, or gives no
// frame for `stall_timeout`) is brought back inside read(): the pipeline is torn down, and after
// a wait of `reconnect_delay`, doubling up to `reconnect_max_delay`, each +-20% at random, a new
// one is built and given `stall_timeout` to deliver its first frame; up to `reconnect_attempts`
// attempts per loss (-1: forever). That first frame carries a StreamEvent (kGap: when the last
// frame before the loss arrived, how long until this one, the attempts it took, why the stream was
// lost) in `events`, and pts stay monotonic: the new pipeline's timestamps are shifted so that
// this frame's pts is the last pts before the gap plus the gap's wall-clock duration. A stream
// that comes back at another size is an error (the outputs were opened for the first size).
// interrupt() ends a reconnection wait or attempt promptly, and read() then returns kEnd.
// The first open never retries: an input that does not open fails at once, as described below.
//
// Errors: a missing or unreadable local file or camera device, a bad test pattern, option or gst:
// description are ConfigErrors; a stream GStreamer cannot open, play or decode is a RuntimeError,
// and so are an empty file, an input without video and one that ends before its first frame;
// both name the input with any credentials masked (rtsp://***@host/...). A stream that breaks
// mid-way makes read() return kError with GStreamer's message and the element's name, when it is
// not reconnected or when every reconnection attempt failed (the message then also says how many
// were made). Any live input that gives no frame for `stall_timeout` and is not reconnected is an
// error too.
// Thread safety: read() from one thread; interrupt() and status() from any.

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

  // Decoded inputs (files, URIs, rtsp://): threads each libav decoder (avdec_*) may use, 0 to 64;
  // 0 lets the decoder choose (one per core). One by default: the cores are the detectors', and
  // a decoder's threads cost more processor time a frame than they save in wall time (on
  // Megamind.avi, MPEG-4 at 720x528, decoding and conversion took 1.7 ms of processor time a
  // frame with one thread against 2.6 ms with the default).
  int decoder_threads = 1;

  // Files only: replay at the file's own frame rate, as if live.
  bool realtime = false;

  // Live inputs: no frame for this long (while streaming, or from a reconnection attempt) means
  // the stream is lost. 100 ms to 1 h.
  std::chrono::milliseconds stall_timeout{10'000};
  // Reconnectable inputs (see above): attempts per loss before read() reports the error; -1:
  // forever; 0: never reconnect.
  int reconnect_attempts = -1;
  // The wait before the first attempt after a loss (1 ms to 1 h), doubled after each failed
  // attempt up to `reconnect_max_delay` (at least `reconnect_delay`, at most 1 h).
  std::chrono::milliseconds reconnect_delay{500};
  std::chrono::milliseconds reconnect_max_delay{30'000};
};

// Opens the input; blocks until its first frame is decoded or `open_timeout` passes. Throws
// ConfigError or RuntimeError as described above; out-of-range options are ConfigErrors naming
// the option.
std::unique_ptr<Source> open_source(const SourceOptions& options);

}  // namespace lookout
