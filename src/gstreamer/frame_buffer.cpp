#include "gstreamer/frame_buffer.h"

#include <gst/video/video.h>

#include <memory>
#include <opencv2/imgproc.hpp>

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

bool encodes_as_i420(int width, int height) {
  // GStreamer's own choice of colour matrix: BT.601 below 720 lines, BT.709 from there on.
  return width % 2 == 0 && height % 2 == 0 && height < 720;
}

GstCaps* i420_caps(int width, int height, int fps_num, int fps_den) {
  return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "colorimetry",
                             G_TYPE_STRING, "bt601", "width", G_TYPE_INT, width, "height",
                             G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION, fps_num, fps_den,
                             nullptr);
}

GstBuffer* wrap_frame_as_i420(const Frame& frame) {
  auto held = std::make_unique<HeldImage>();
  cv::cvtColor(frame.image, held->image, cv::COLOR_BGR2YUV_I420);
  const cv::Mat& image = held->image;
  const gsize size = image.total();
  GstBuffer* buffer = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, image.data, size, 0,
                                                  size, held.get(), release_held);
  held.release();
  // OpenCV packs the planes tightly (Y, then U, then V), which GStreamer's default layout does
  // not when half the width is not a multiple of 4; the meta states the real one.
  const int width = frame.image.cols;
  const int height = frame.image.rows;
  const gsize luma = static_cast<gsize>(width) * static_cast<gsize>(height);
  gsize offsets[GST_VIDEO_MAX_PLANES] = {0, luma, luma + luma / 4};
  gint strides[GST_VIDEO_MAX_PLANES] = {width, width / 2, width / 2};
  gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_I420,
                                 static_cast<guint>(width), static_cast<guint>(height), 3, offsets,
                                 strides);
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
