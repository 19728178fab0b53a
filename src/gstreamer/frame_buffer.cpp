#include "gstreamer/frame_buffer.h"

#include <gst/video/video.h>

#include <memory>

namespace lookout::gst {
namespace {

struct HeldImage {
  cv::Mat image;
  std::shared_ptr<const void> owner;
};

void release_held(gpointer data) { delete static_cast<HeldImage*>(data); }

}  // namespace

GstBuffer* wrap_frame_image(const Frame& frame) {
  auto held = std::make_unique<HeldImage>(HeldImage{frame.image, frame.owner});
  const cv::Mat& image = held->image;
  const std::size_t row_bytes = static_cast<std::size_t>(image.cols) * image.elemSize();
  const gsize size = image.step[0] * static_cast<std::size_t>(image.rows - 1) + row_bytes;
  GstBuffer* buffer = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, image.data, size, 0,
                                                  size, held.get(), release_held);
  held.release();
  gsize offsets[GST_VIDEO_MAX_PLANES] = {0};
  gint strides[GST_VIDEO_MAX_PLANES] = {static_cast<gint>(image.step[0])};
  gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_BGR,
                                 static_cast<guint>(image.cols), static_cast<guint>(image.rows), 1,
                                 offsets, strides);
  return buffer;
}

std::int64_t OutputTimestamps::next(const Frame& frame, std::int64_t index) {
  std::int64_t pts = frame.pts_ns >= 0 ? frame.pts_ns : index * period_ns_;
  if (first_ns_ < 0) first_ns_ = pts;
  pts -= first_ns_;
  if (last_ns_ >= 0 && pts <= last_ns_) pts = last_ns_ + period_ns_;
  last_ns_ = pts;
  return pts;
}

}  // namespace lookout::gst
