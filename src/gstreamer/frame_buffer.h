#pragma once
// Handing frames to GStreamer outputs (encoder, window, restream) without copying their pixels.
//
// wrap_frame_image(): a GstBuffer over the frame's BGR image. The buffer holds on to the image and
// to the frame's `owner` (the capture layer's mapped sample, if the pixels are borrowed) until
// GStreamer is done with it, so the frame itself may die at once. Its video meta states the real
// row stride, which differs from what the caps imply for odd widths and for images that are a
// region of a larger one. The caller owns the returned buffer (push it, or unref it).
//
// Encoders take 4:2:0 (I420). For a standard-definition frame of even width and height
// (encodes_as_i420), wrap_frame_as_i420() converts the frame's image with OpenCV (BT.601, limited
// range, as i420_caps() states) into a buffer that owns the result, several times faster than
// videoconvert converts BGR; other sizes are pushed as BGR and left to videoconvert, which makes
// HD frames BT.709 as players expect of them. The caller owns the returned buffer and caps.
//
// OutputTimestamps: presentation times for an output that starts at zero and must be strictly
// increasing (encoders require it), from the frames' own pts; a frame without pts, or one that
// goes back in time (a live source that reconnected), gets the previous one plus a frame period.
// Thread safety: thread-compatible.

#include <gst/gst.h>

#include <cstdint>

#include "lookout/core/frame.h"

namespace lookout::gst {

GstBuffer* wrap_frame_image(const Frame& frame);

bool encodes_as_i420(int width, int height);
GstCaps* i420_caps(int width, int height, int fps_num, int fps_den);
GstBuffer* wrap_frame_as_i420(const Frame& frame);

class OutputTimestamps {
 public:
  explicit OutputTimestamps(std::int64_t period_ns) : period_ns_(period_ns) {}

  // The pts for `frame`, the `index`-th frame this output takes (0, 1, 2...).
  std::int64_t next(const Frame& frame, std::int64_t index);
  // The frame's duration, or the period when it has none.
  std::int64_t duration(const Frame& frame) const {
    return frame.duration_ns > 0 ? frame.duration_ns : period_ns_;
  }
  std::int64_t period_ns() const { return period_ns_; }

 private:
  std::int64_t period_ns_;
  std::int64_t first_ns_ = -1;
  std::int64_t last_ns_ = -1;
};

}  // namespace lookout::gst
