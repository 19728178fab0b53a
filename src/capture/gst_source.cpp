#include "lookout/capture/gst_source.h"

#include <fmt/core.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "gstreamer/gst_support.h"
#include "lookout/core/error.h"

namespace lookout {
namespace {

constexpr auto kPullSlice = std::chrono::milliseconds(100);
constexpr auto kOpenSlice = std::chrono::milliseconds(50);

GstClockTime to_clock_time(std::chrono::nanoseconds duration) {
  return static_cast<GstClockTime>(duration.count());
}

// Keeps one decoded sample mapped for as long as any frame's image points into it.
class MappedSample {
 public:
  MappedSample(gst::SamplePtr sample, const GstVideoInfo& info) : sample_(std::move(sample)) {
    mapped_ = gst_video_frame_map(&frame_, &info, gst_sample_get_buffer(sample_.get()),
                                  GST_MAP_READ) != 0;
  }
  MappedSample(const MappedSample&) = delete;
  MappedSample& operator=(const MappedSample&) = delete;
  ~MappedSample() {
    if (mapped_) gst_video_frame_unmap(&frame_);
  }

  bool mapped() const { return mapped_; }
  const GstVideoFrame& frame() const { return frame_; }

 private:
  gst::SamplePtr sample_;
  GstVideoFrame frame_{};
  bool mapped_ = false;
};

// State shared with uridecodebin's signal handlers, which run on GStreamer's streaming threads.
struct DecodeState {
  GstElement* convert = nullptr;  // borrowed from the pipeline
  std::atomic<bool> video_linked{false};
  std::atomic<bool> no_more_pads{false};
  std::mutex link_mutex;  // pad-added may fire on several threads at once
};

void on_pad_added(GstElement* /*decodebin*/, GstPad* pad, gpointer data) {
  auto* state = static_cast<DecodeState*>(data);
  gst::CapsPtr caps(gst_pad_get_current_caps(pad));
  if (!caps) caps.reset(gst_pad_query_caps(pad, nullptr));
  if (!caps || gst_caps_is_empty(caps.get())) return;
  const GstStructure* structure = gst_caps_get_structure(caps.get(), 0);
  if (!gst_structure_has_name(structure, "video/x-raw")) return;

  std::lock_guard lock(state->link_mutex);
  // Only the first video stream is decoded; others stay unlinked and decodebin skips them.
  if (state->video_linked.load()) return;
  gst::PadPtr sink(gst_element_get_static_pad(state->convert, "sink"));
  if (gst_pad_link(pad, sink.get()) == GST_PAD_LINK_OK) state->video_linked.store(true);
}

void on_no_more_pads(GstElement* /*decodebin*/, gpointer data) {
  static_cast<DecodeState*>(data)->no_more_pads.store(true);
}

class GstSource final : public Source {
 public:
  explicit GstSource(const SourceOptions& options);
  ~GstSource() override;

  const StreamInfo& info() const override { return info_; }
  Read read(Frame& frame, std::string& error) override;
  void interrupt() override { interrupted_.store(true); }

 private:
  void build(const std::string& uri, std::size_t max_buffers);
  void wait_for_preroll(std::chrono::seconds timeout);
  void read_stream_info();
  bool no_video() const { return state_.no_more_pads.load() && !state_.video_linked.load(); }
  const GstVideoInfo* info_for(GstSample* sample);

  StreamInfo info_;
  std::atomic<bool> interrupted_{false};
  // Declared before the pipeline so that it outlives the pipeline's streaming threads.
  DecodeState state_;
  gst::PipelinePtr pipeline_;
  GstElement* decodebin_ = nullptr;  // borrowed from the pipeline
  GstAppSink* appsink_ = nullptr;    // borrowed from the pipeline
  gst::BusPtr bus_;
  std::string pending_error_;
  gst::CapsPtr last_caps_;
  GstVideoInfo last_info_{};
};

GstSource::GstSource(const SourceOptions& options) {
  gst::ensure_initialized();
  const std::string& input = options.input;
  info_.uri = gst::mask_credentials(input);
  if (input.empty()) throw ConfigError("no input given; name a video file or a URI");
  if (!gst::is_uri(input)) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(input, ec)) {
      throw ConfigError(
          fmt::format("input '{}' does not exist; check the path or give a URI", input));
    }
    if (fs::is_directory(input, ec)) {
      throw ConfigError(fmt::format("input '{}' is a directory; name a video file", input));
    }
    if (::access(input.c_str(), R_OK) != 0) {
      throw ConfigError(fmt::format("input '{}' is not readable: {}; check its permissions", input,
                                    std::strerror(errno)));
    }
  }
  build(gst::to_uri(input), options.max_buffers);
  wait_for_preroll(options.open_timeout);
  read_stream_info();
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(bus_.get());
    throw RuntimeError(fmt::format("cannot play input '{}': {}", info_.uri,
                                   message ? gst::describe(message.get()) : "state change failed"));
  }
}

GstSource::~GstSource() {
  // Stopping joins the streaming threads, so the handlers cannot run once they are disconnected.
  // Frames already handed out keep their own sample references and stay valid.
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  if (decodebin_ != nullptr) g_signal_handlers_disconnect_by_data(decodebin_, &state_);
}

void GstSource::build(const std::string& uri, std::size_t max_buffers) {
  pipeline_.reset(gst_pipeline_new("capture"));
  // Each element joins the pipeline as soon as it exists, so the pipeline owns it even if a later
  // one is missing and this throws.
  auto add = [&](const char* factory, const char* name) {
    GstElement* element = gst::make_element(factory, name);
    gst_bin_add(GST_BIN(pipeline_.get()), element);
    return element;
  };
  GstElement* decodebin = add("uridecodebin", "decode");
  GstElement* convert = add("videoconvert", "convert");
  GstElement* filter = add("capsfilter", "bgr");
  GstElement* sink = add("appsink", "frames");
  decodebin_ = decodebin;
  appsink_ = GST_APP_SINK(sink);
  state_.convert = convert;

  g_object_set(decodebin, "uri", uri.c_str(), nullptr);
  gst::CapsPtr bgr(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", nullptr));
  g_object_set(filter, "caps", bgr.get(), nullptr);
  // Not synchronised to the clock: frames are wanted as fast as the pipeline can take them.
  // A full appsink blocks decoding rather than dropping, so a file loses no frame. The sink's
  // copy of the last sample is disabled so it does not pin one extra decoded buffer.
  g_object_set(sink, "sync", FALSE, "max-buffers",
               static_cast<guint>(std::max<std::size_t>(max_buffers, 1)), "drop", FALSE,
               "enable-last-sample", FALSE, nullptr);

  if (!gst_element_link_many(convert, filter, sink, nullptr)) {
    throw RuntimeError(fmt::format("input '{}': cannot link videoconvert to appsink", info_.uri));
  }
  g_signal_connect(decodebin, "pad-added", G_CALLBACK(on_pad_added), &state_);
  g_signal_connect(decodebin, "no-more-pads", G_CALLBACK(on_no_more_pads), &state_);
  bus_.reset(gst_element_get_bus(pipeline_.get()));
}

void GstSource::wait_for_preroll(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string hint =
      gst::is_uri(info_.uri)
          ? std::string()
          : std::string("; is it a complete video file in a format GStreamer can decode?");
  const std::string no_video_stream = fmt::format("input '{}' has no video stream", info_.uri);
  auto fail_with = [&](GstMessage* message) {
    if (no_video()) throw RuntimeError(no_video_stream);
    throw RuntimeError(fmt::format("cannot decode input '{}': {}{}", info_.uri,
                                   message != nullptr ? gst::describe(message) : "no details",
                                   hint));
  };

  // A live source (a camera, RTSP) cannot preroll in PAUSED; it reaches its first frame only
  // when PLAYING, so it goes there at once and the wait below covers both cases.
  const GstStateChangeReturn change = gst_element_set_state(pipeline_.get(), GST_STATE_PAUSED);
  if (change == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(bus_.get());
    fail_with(message.get());
  }
  if (change == GST_STATE_CHANGE_NO_PREROLL) {
    gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
  }
  if (change == GST_STATE_CHANGE_SUCCESS) return;

  const auto types =
      static_cast<GstMessageType>(GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  // Sliced so that a stream without video (decodebin has announced all its pads, none of them
  // video) is recognised at once instead of waiting for the timeout or a vaguer error.
  for (;;) {
    if (no_video()) fail_with(nullptr);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      throw RuntimeError(
          fmt::format("input '{}' gave no frame within {} s; check that it is reachable and plays, "
                      "or raise the open timeout",
                      info_.uri, timeout.count()));
    }
    const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, kOpenSlice);
    gst::MessagePtr message(gst_bus_timed_pop_filtered(bus_.get(), to_clock_time(slice), types));
    if (!message) continue;
    switch (GST_MESSAGE_TYPE(message.get())) {
      case GST_MESSAGE_ERROR:
        fail_with(message.get());
        break;
      case GST_MESSAGE_EOS:
        if (!state_.video_linked.load()) throw RuntimeError(no_video_stream);
        throw RuntimeError(fmt::format("input '{}' ended before its first frame", info_.uri));
      case GST_MESSAGE_ASYNC_DONE:
        if (GST_MESSAGE_SRC(message.get()) == GST_OBJECT(pipeline_.get())) {
          // Prerolled without a video pad: every stream went elsewhere (audio, subtitles).
          if (!state_.video_linked.load()) throw RuntimeError(no_video_stream);
          return;
        }
        break;
      default:
        break;
    }
  }
}

void GstSource::read_stream_info() {
  gst::PadPtr pad(gst_element_get_static_pad(GST_ELEMENT(appsink_), "sink"));
  gst::CapsPtr caps(gst_pad_get_current_caps(pad.get()));
  GstVideoInfo video{};
  if (!caps || !gst_video_info_from_caps(&video, caps.get())) {
    // Prerolled on EOS or with unusable caps: there is no frame to describe.
    throw RuntimeError(fmt::format("input '{}' has no video stream", info_.uri));
  }
  info_.width = GST_VIDEO_INFO_WIDTH(&video);
  info_.height = GST_VIDEO_INFO_HEIGHT(&video);
  if (GST_VIDEO_INFO_FPS_N(&video) > 0 && GST_VIDEO_INFO_FPS_D(&video) > 0) {
    info_.fps_num = GST_VIDEO_INFO_FPS_N(&video);
    info_.fps_den = GST_VIDEO_INFO_FPS_D(&video);
  } else {
    info_.fps_num = 0;
    info_.fps_den = 1;
  }
  gint64 duration = -1;
  if (gst_element_query_duration(pipeline_.get(), GST_FORMAT_TIME, &duration) && duration > 0) {
    info_.duration_ns = duration;
    if (info_.fps_num > 0) {
      info_.frame_count = std::llround(static_cast<double>(duration) * info_.fps_num /
                                       (static_cast<double>(info_.fps_den) * 1e9));
    }
  }
}

const GstVideoInfo* GstSource::info_for(GstSample* sample) {
  GstCaps* caps = gst_sample_get_caps(sample);
  if (caps == nullptr) return nullptr;
  // Caps rarely change, so they are parsed again only when the stream renegotiates (a resolution
  // change mid-stream); each frame still takes its size from its own sample's caps.
  if (last_caps_.get() != caps && !(last_caps_ && gst_caps_is_equal(last_caps_.get(), caps))) {
    GstVideoInfo parsed{};
    if (!gst_video_info_from_caps(&parsed, caps)) return nullptr;
    last_info_ = parsed;
    last_caps_.reset(gst_caps_ref(caps));
  }
  return &last_info_;
}

Source::Read GstSource::read(Frame& frame, std::string& error) {
  for (;;) {
    if (interrupted_.load()) return Read::kEnd;
    // Looking at the bus on every read also discards the informational messages a long stream
    // keeps posting, which nobody else reads.
    if (pending_error_.empty()) {
      gst::MessagePtr message = gst::pop_error(bus_.get());
      if (message) pending_error_ = gst::describe(message.get());
    }
    gst::SamplePtr sample(gst_app_sink_try_pull_sample(appsink_, to_clock_time(kPullSlice)));
    if (sample) {
      const GstVideoInfo* video = info_for(sample.get());
      if (video == nullptr || GST_VIDEO_INFO_FORMAT(video) != GST_VIDEO_FORMAT_BGR) {
        error = fmt::format("input '{}': a decoded frame has no usable BGR caps", info_.uri);
        return Read::kError;
      }
      GstBuffer* buffer = gst_sample_get_buffer(sample.get());
      const std::int64_t pts = gst::to_ns(GST_BUFFER_PTS(buffer));
      const std::int64_t duration = gst::to_ns(GST_BUFFER_DURATION(buffer));
      auto mapped = std::make_shared<MappedSample>(std::move(sample), *video);
      if (!mapped->mapped()) {
        error = fmt::format("input '{}': cannot map a decoded frame for reading", info_.uri);
        return Read::kError;
      }
      const GstVideoFrame& mapped_frame = mapped->frame();
      frame.image =
          cv::Mat(GST_VIDEO_FRAME_HEIGHT(&mapped_frame), GST_VIDEO_FRAME_WIDTH(&mapped_frame),
                  CV_8UC3, GST_VIDEO_FRAME_PLANE_DATA(&mapped_frame, 0),
                  static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&mapped_frame, 0)));
      frame.owner = std::move(mapped);
      frame.pts_ns = pts;
      frame.duration_ns = duration;
      frame.captured = Clock::now();
      return Read::kFrame;
    }
    if (gst_app_sink_is_eos(appsink_)) return Read::kEnd;
    // Frames decoded before an error are still delivered; the error is reported once the sink
    // runs dry, which is when it actually stops the stream.
    if (!pending_error_.empty()) {
      error = fmt::format("input '{}' failed: {}", info_.uri, pending_error_);
      return Read::kError;
    }
  }
}

}  // namespace

std::unique_ptr<Source> open_source(const SourceOptions& options) {
  return std::make_unique<GstSource>(options);
}

}  // namespace lookout
