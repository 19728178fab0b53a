#include "lookout/capture/gst_source.h"

#include <fmt/core.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
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

enum class InputKind { kPath, kUri, kRtsp, kTest, kCamera, kDescription };

constexpr const char kTestPrefix[] = "test:";
constexpr const char kDescriptionPrefix[] = "gst:";
constexpr const char kCameraPrefix[] = "/dev/video";

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

bool starts_with_no_case(const std::string& text, const char* prefix) {
  const std::size_t n = std::strlen(prefix);
  if (text.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

InputKind kind_of(const std::string& input) {
  if (starts_with(input, kTestPrefix)) return InputKind::kTest;
  if (starts_with(input, kDescriptionPrefix)) return InputKind::kDescription;
  if (starts_with(input, kCameraPrefix)) return InputKind::kCamera;
  // rtsp://, rtsps://, rtspt://, rtspu:// are all rtspsrc's.
  if (starts_with_no_case(input, "rtsp") && gst::is_uri(input)) return InputKind::kRtsp;
  if (gst::is_uri(input)) return InputKind::kUri;
  return InputKind::kPath;
}

// The pattern goes into a parsed description, so only a plain name may pass: anything else could
// add elements or properties to the pipeline.
bool is_plain_name(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

std::string raw_caps(int width, int height, int fps) {
  std::string caps = "video/x-raw";
  if (width > 0) caps += fmt::format(",width={}", width);
  if (height > 0) caps += fmt::format(",height={}", height);
  if (fps > 0) caps += fmt::format(",framerate={}/1", fps);
  return caps;
}

struct RtspSettings {
  RtspTransport transport = RtspTransport::kAuto;
  int latency_ms = 200;
};

// Runs once uridecodebin has made its source element and before that connects.
void on_source_setup(GstElement* /*decodebin*/, GstElement* source, gpointer data) {
  const auto* settings = static_cast<const RtspSettings*>(data);
  GObjectClass* klass = G_OBJECT_GET_CLASS(source);
  // Set by name so that capture needs no link to the RTSP library; other sources are left alone.
  if (g_object_class_find_property(klass, "latency") != nullptr) {
    g_object_set(source, "latency", static_cast<guint>(settings->latency_ms), nullptr);
  }
  if (g_object_class_find_property(klass, "protocols") != nullptr) {
    if (settings->transport == RtspTransport::kTcp) {
      gst_util_set_object_arg(G_OBJECT(source), "protocols", "tcp");
    } else if (settings->transport == RtspTransport::kUdp) {
      gst_util_set_object_arg(G_OBJECT(source), "protocols", "udp+udp-mcast");
    }
  }
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
  void check_local_input(InputKind kind, const std::string& input) const;
  void build(const SourceOptions& options, InputKind kind);
  GstElement* add(const char* factory, const char* name);
  GstElement* add_description(const std::string& description, InputKind kind);
  void open(std::chrono::seconds timeout, bool known_live);
  bool wait_for_preroll(std::chrono::steady_clock::time_point deadline);
  void wait_for_first_sample(std::chrono::steady_clock::time_point deadline,
                             std::chrono::seconds timeout);
  void play();
  [[noreturn]] void fail_to_open(GstMessage* message) const;
  [[noreturn]] void fail_timeout(std::chrono::seconds timeout) const;
  void read_stream_info(GstCaps* caps);
  bool no_video() const { return state_.no_more_pads.load() && !state_.video_linked.load(); }
  const GstVideoInfo* info_for(GstSample* sample);
  Read deliver(gst::SamplePtr sample, Frame& frame, std::string& error);

  StreamInfo info_;
  std::atomic<bool> interrupted_{false};
  // Declared before the pipeline so that they outlive the pipeline's streaming threads.
  DecodeState state_;
  RtspSettings rtsp_;
  gst::PipelinePtr pipeline_;
  GstElement* decodebin_ = nullptr;  // borrowed from the pipeline; null unless uridecodebin
  GstAppSink* appsink_ = nullptr;    // borrowed from the pipeline
  gst::BusPtr bus_;
  std::string pending_error_;
  gst::SamplePtr first_sample_;  // a live source's first frame, pulled while opening
  gst::CapsPtr last_caps_;
  GstVideoInfo last_info_{};
};

GstSource::GstSource(const SourceOptions& options) {
  gst::ensure_initialized();
  const std::string& input = options.input;
  info_.uri = gst::mask_credentials(input);
  if (input.empty()) throw ConfigError("no input given; name a video file or a URI");
  const InputKind kind = kind_of(input);
  check_local_input(kind, input);
  if (options.realtime && kind != InputKind::kPath && kind != InputKind::kUri) {
    throw ConfigError(fmt::format(
        "input '{}': realtime replays a file at its own rate; this input is live already, so "
        "leave realtime out", info_.uri));
  }
  rtsp_.transport = options.transport;
  rtsp_.latency_ms = options.latency_ms;
  build(options, kind);
  const bool known_live =
      kind == InputKind::kRtsp || kind == InputKind::kTest || kind == InputKind::kCamera;
  open(options.open_timeout, known_live);
  if (options.realtime) info_.live = true;
}

GstSource::~GstSource() {
  // Stopping joins the streaming threads, so the handlers cannot run once they are disconnected.
  // Frames already handed out keep their own sample references and stay valid.
  first_sample_.reset();
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  if (decodebin_ != nullptr) {
    g_signal_handlers_disconnect_by_data(decodebin_, &state_);
    g_signal_handlers_disconnect_by_data(decodebin_, &rtsp_);
  }
}

void GstSource::check_local_input(InputKind kind, const std::string& input) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (kind == InputKind::kCamera) {
    if (!fs::exists(input, ec)) {
      throw ConfigError(fmt::format(
          "camera '{}' does not exist; list the cameras with 'ls /dev/video*' (or "
          "v4l2-ctl --list-devices)", input));
    }
    if (::access(input.c_str(), R_OK | W_OK) != 0) {
      throw ConfigError(fmt::format("camera '{}' cannot be opened: {}; is the user in group video?",
                                    input, std::strerror(errno)));
    }
    return;
  }
  if (kind != InputKind::kPath) return;
  if (!fs::exists(input, ec)) {
    throw ConfigError(fmt::format("input '{}' does not exist; check the path or give a URI", input));
  }
  if (fs::is_directory(input, ec)) {
    throw ConfigError(fmt::format("input '{}' is a directory; name a video file", input));
  }
  if (::access(input.c_str(), R_OK) != 0) {
    throw ConfigError(fmt::format("input '{}' is not readable: {}; check its permissions", input,
                                  std::strerror(errno)));
  }
}

// Each element joins the pipeline as soon as it exists, so the pipeline owns it even if a later
// one is missing and building throws.
GstElement* GstSource::add(const char* factory, const char* name) {
  GstElement* element = gst::make_element(factory, name);
  gst_bin_add(GST_BIN(pipeline_.get()), element);
  return element;
}

GstElement* GstSource::add_description(const std::string& description, InputKind kind) {
  GError* error = nullptr;
  // The parser takes caps only between two elements, so a description that ends in caps
  // ("videotestsrc ! video/x-raw,width=320") gets a pass-through capsfilter to end in.
  const std::string closed = description + " ! capsfilter name=lookout-input-end";
  // Fatal errors: a property that cannot be set (a misspelt pattern) must fail, not be skipped.
  GstElement* bin = gst_parse_bin_from_description_full(
      closed.c_str(), TRUE, nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (bin == nullptr || error != nullptr) {
    const std::string reason =
        gst::mask_credentials(error != nullptr ? error->message : "unknown reason");
    g_clear_error(&error);
    if (bin != nullptr) gst_object_unref(gst_object_ref_sink(bin));
    if (kind == InputKind::kTest) {
      throw ConfigError(fmt::format(
          "input '{}': {}; name a videotestsrc pattern, e.g. test:ball, test:smpte, test:snow "
          "(gst-inspect-1.0 videotestsrc lists them)", info_.uri, reason));
    }
    throw ConfigError(fmt::format(
        "input '{}' is not a usable GStreamer description: {}; check it with gst-launch-1.0 "
        "... ! fakesink", info_.uri, reason));
  }
  gst_bin_add(GST_BIN(pipeline_.get()), bin);
  return bin;
}

void GstSource::build(const SourceOptions& options, InputKind kind) {
  pipeline_.reset(gst_pipeline_new("capture"));
  GstElement* front = nullptr;
  switch (kind) {
    case InputKind::kTest: {
      std::string pattern = options.input.substr(std::strlen(kTestPrefix));
      if (pattern.empty()) pattern = "smpte";
      if (!is_plain_name(pattern)) {
        throw ConfigError(fmt::format(
            "input '{}': '{}' is not a test pattern name; use e.g. test:ball or test:smpte",
            info_.uri, pattern));
      }
      front = add_description(
          fmt::format("videotestsrc is-live=true pattern={} ! {}", pattern,
                      raw_caps(options.width > 0 ? options.width : 640,
                               options.height > 0 ? options.height : 480,
                               options.fps > 0 ? options.fps : 25)),
          kind);
      break;
    }
    case InputKind::kCamera: {
      std::string description = fmt::format("v4l2src device=\"{}\"", options.input);
      if (options.width > 0 || options.height > 0 || options.fps > 0) {
        description += " ! " + raw_caps(options.width, options.height, options.fps);
      }
      front = add_description(description, kind);
      break;
    }
    case InputKind::kDescription:
      front = add_description(options.input.substr(std::strlen(kDescriptionPrefix)), kind);
      break;
    case InputKind::kPath:
    case InputKind::kUri:
    case InputKind::kRtsp:
      decodebin_ = add("uridecodebin", "decode");
      g_object_set(decodebin_, "uri", gst::to_uri(options.input).c_str(), nullptr);
      break;
  }
  GstElement* convert = add("videoconvert", "convert");
  GstElement* filter = add("capsfilter", "bgr");
  GstElement* sink = add("appsink", "frames");
  appsink_ = GST_APP_SINK(sink);
  state_.convert = convert;

  gst::CapsPtr bgr(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", nullptr));
  g_object_set(filter, "caps", bgr.get(), nullptr);
  const bool live_by_nature =
      kind == InputKind::kRtsp || kind == InputKind::kTest || kind == InputKind::kCamera;
  // A file is not synchronised to the clock (frames as fast as they are taken) unless replayed in
  // real time; a full appsink then blocks decoding, so a file loses no frame. A live source is
  // paced by itself, and a full appsink drops its oldest frame rather than stall the camera or
  // the server. The sink's copy of the last sample is disabled so it does not pin one extra
  // decoded buffer.
  g_object_set(sink, "sync", options.realtime ? TRUE : FALSE, "max-buffers",
               static_cast<guint>(std::max<std::size_t>(options.max_buffers, 1)), "drop",
               live_by_nature ? TRUE : FALSE, "enable-last-sample", FALSE, nullptr);

  if (!gst_element_link_many(convert, filter, sink, nullptr)) {
    throw RuntimeError(fmt::format("input '{}': cannot link videoconvert to appsink", info_.uri));
  }
  if (front != nullptr) {
    if (!gst_element_link(front, convert)) {
      throw ConfigError(fmt::format(
          "input '{}' cannot be linked to videoconvert; the description must end in raw video "
          "(add '! videoconvert' or decode it)", info_.uri));
    }
  } else {
    g_signal_connect(decodebin_, "pad-added", G_CALLBACK(on_pad_added), &state_);
    g_signal_connect(decodebin_, "no-more-pads", G_CALLBACK(on_no_more_pads), &state_);
    if (kind == InputKind::kRtsp) {
      g_signal_connect(decodebin_, "source-setup", G_CALLBACK(on_source_setup), &rtsp_);
    }
  }
  bus_.reset(gst_element_get_bus(pipeline_.get()));
}

void GstSource::fail_to_open(GstMessage* message) const {
  if (no_video()) throw RuntimeError(fmt::format("input '{}' has no video stream", info_.uri));
  const std::string hint =
      kind_of(info_.uri) == InputKind::kPath
          ? std::string("; is it a complete video file in a format GStreamer can decode?")
          : std::string();
  throw RuntimeError(fmt::format("cannot open input '{}': {}{}", info_.uri,
                                 message != nullptr ? gst::describe(message) : "no details", hint));
}

void GstSource::fail_timeout(std::chrono::seconds timeout) const {
  throw RuntimeError(
      fmt::format("input '{}' gave no frame within {} s; check that it is reachable and plays, "
                  "or raise the open timeout",
                  info_.uri, timeout.count()));
}

void GstSource::play() {
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(bus_.get());
    throw RuntimeError(fmt::format("cannot play input '{}': {}", info_.uri,
                                   message ? gst::describe(message.get()) : "state change failed"));
  }
}

void GstSource::open(std::chrono::seconds timeout, bool known_live) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!known_live) {
    // A file prerolls in PAUSED; a source that turns out to be live answers NO_PREROLL instead.
    const GstStateChangeReturn change = gst_element_set_state(pipeline_.get(), GST_STATE_PAUSED);
    if (change == GST_STATE_CHANGE_FAILURE) {
      gst::MessagePtr message = gst::pop_error(bus_.get());
      fail_to_open(message.get());
    }
    if (change != GST_STATE_CHANGE_NO_PREROLL) {
      if (change == GST_STATE_CHANGE_ASYNC && !wait_for_preroll(deadline)) fail_timeout(timeout);
      gst::PadPtr pad(gst_element_get_static_pad(GST_ELEMENT(appsink_), "sink"));
      gst::CapsPtr caps(gst_pad_get_current_caps(pad.get()));
      read_stream_info(caps.get());
      play();
      return;
    }
  }
  info_.live = true;
  play();
  wait_for_first_sample(deadline, timeout);
  read_stream_info(gst_sample_get_caps(first_sample_.get()));
}

bool GstSource::wait_for_preroll(std::chrono::steady_clock::time_point deadline) {
  const auto types =
      static_cast<GstMessageType>(GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  // Sliced so that a stream without video (decodebin has announced all its pads, none of them
  // video) is recognised at once instead of waiting for the timeout or a vaguer error.
  for (;;) {
    if (no_video()) fail_to_open(nullptr);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, kOpenSlice);
    gst::MessagePtr message(gst_bus_timed_pop_filtered(bus_.get(), to_clock_time(slice), types));
    if (!message) continue;
    switch (GST_MESSAGE_TYPE(message.get())) {
      case GST_MESSAGE_ERROR:
        fail_to_open(message.get());
      case GST_MESSAGE_EOS:
        if (decodebin_ != nullptr && !state_.video_linked.load()) {
          throw RuntimeError(fmt::format("input '{}' has no video stream", info_.uri));
        }
        throw RuntimeError(fmt::format("input '{}' ended before its first frame", info_.uri));
      case GST_MESSAGE_ASYNC_DONE:
        if (GST_MESSAGE_SRC(message.get()) == GST_OBJECT(pipeline_.get())) {
          // Prerolled without a video pad: every stream went elsewhere (audio, subtitles).
          if (decodebin_ != nullptr && !state_.video_linked.load()) {
            throw RuntimeError(fmt::format("input '{}' has no video stream", info_.uri));
          }
          return true;
        }
        break;
      default:
        break;
    }
  }
}

void GstSource::wait_for_first_sample(std::chrono::steady_clock::time_point deadline,
                                      std::chrono::seconds timeout) {
  for (;;) {
    gst::MessagePtr message = gst::pop_error(bus_.get());
    if (message) fail_to_open(message.get());
    if (no_video()) fail_to_open(nullptr);
    first_sample_.reset(gst_app_sink_try_pull_sample(appsink_, to_clock_time(kOpenSlice)));
    if (first_sample_) return;
    if (gst_app_sink_is_eos(appsink_)) {
      throw RuntimeError(fmt::format("input '{}' ended before its first frame", info_.uri));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      fail_timeout(timeout);
    }
  }
}

void GstSource::read_stream_info(GstCaps* caps) {
  GstVideoInfo video{};
  if (caps == nullptr || !gst_video_info_from_caps(&video, caps)) {
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
  // A live stream has no end to count to, even when a server announces one.
  if (info_.live) return;
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

Source::Read GstSource::deliver(gst::SamplePtr sample, Frame& frame, std::string& error) {
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
      cv::Mat(GST_VIDEO_FRAME_HEIGHT(&mapped_frame), GST_VIDEO_FRAME_WIDTH(&mapped_frame), CV_8UC3,
              GST_VIDEO_FRAME_PLANE_DATA(&mapped_frame, 0),
              static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&mapped_frame, 0)));
  frame.owner = std::move(mapped);
  frame.pts_ns = pts;
  frame.duration_ns = duration;
  frame.captured = Clock::now();
  return Read::kFrame;
}

Source::Read GstSource::read(Frame& frame, std::string& error) {
  if (first_sample_) return deliver(std::move(first_sample_), frame, error);
  for (;;) {
    if (interrupted_.load()) return Read::kEnd;
    // Looking at the bus on every read also discards the informational messages a long stream
    // keeps posting, which nobody else reads.
    if (pending_error_.empty()) {
      gst::MessagePtr message = gst::pop_error(bus_.get());
      if (message) pending_error_ = gst::describe(message.get());
    }
    gst::SamplePtr sample(gst_app_sink_try_pull_sample(appsink_, to_clock_time(kPullSlice)));
    if (sample) return deliver(std::move(sample), frame, error);
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
