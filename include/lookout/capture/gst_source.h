#pragma once
// A Source over GStreamer's uridecodebin: any local path or URI it can play (files, http, rtsp...).
//
//   uridecodebin uri=... ! videoconvert ! video/x-raw,format=BGR ! appsink
//
// open_source() builds the pipeline, waits (up to `open_timeout`) for the first decoded frame, and
// reads size, frame rate and duration from the stream; frame count is duration x rate. Each frame
// wraps the mapped GStreamer buffer without copying: the frame's `owner` keeps the sample mapped
// until the frame dies, and the row stride comes from the stream, so odd widths work.
// Back-pressure: appsink holds at most `max_buffers` decoded frames and then blocks decoding, so a
// file source never loses a frame.
// Errors: a missing or unreadable local file is a ConfigError; a stream GStreamer cannot open or
// decode is a RuntimeError; both name the input. A stream that breaks mid-way makes read() return
// kError with GStreamer's message and the element's name.
// Thread safety: read() from one thread; interrupt() from any.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "lookout/core/source.h"

namespace lookout {

struct SourceOptions {
  std::string input;  // a path or a URI
  std::chrono::seconds open_timeout{20};
  std::size_t max_buffers = 4;
};

std::unique_ptr<Source> open_source(const SourceOptions& options);

}  // namespace lookout
