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
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <opencv2/imgproc.hpp>
#include <random>
#include <stdexcept>
#include <vector>

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

// An audio-only file, or a stream whose every track is something else, has nothing to look at.
std::string no_video_message(const std::string& uri) {
  return fmt::format("input '{}' has no video stream (only audio or other data); name an input "
                     "that has video", uri);
}

// A container with a video track but no frame in it: only a header, or cut off before the first
// frame, or holding frames its demuxer will not read.
std::string ended_early_message(const std::string& uri) {
  return fmt::format("input '{}' ended before its first frame: it holds no video frame GStreamer "
                     "can decode; check that it is complete (not just a header, not cut short)",
                     uri);
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

// Maps a decoded sample's frame for reading for as long as it lives.
class MappedSample {
 public:
  MappedSample(GstSample* sample, const GstVideoInfo& info) {
    mapped_ = gst_video_frame_map(&frame_, &info, gst_sample_get_buffer(sample), GST_MAP_READ) != 0;
  }
  MappedSample(const MappedSample&) = delete;
  MappedSample& operator=(const MappedSample&) = delete;
  ~MappedSample() {
    if (mapped_) gst_video_frame_unmap(&frame_);
  }

  bool mapped() const { return mapped_; }
  const GstVideoFrame& frame() const { return frame_; }

 private:
  GstVideoFrame frame_{};
  bool mapped_ = false;
};

// State shared with uridecodebin's signal handlers, which run on GStreamer's streaming threads.
struct DecodeState {
  GstElement* convert = nullptr;  // borrowed from the pipeline
  // SourceOptions::decoder_threads. Atomic because the handler may run on a thread GStreamer's
  // pool kept from an earlier connection, which sees this write only through GLib's locks.
  std::atomic<int> decoder_threads{1};
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

// Runs for every element uridecodebin plugs, before it starts. libav's decoders (avdec_*) take
// their thread count from "max-threads"; other decoders have no such property and are left alone.
void on_element_added(GstBin* /*decodebin*/, GstBin* /*sub_bin*/, GstElement* element,
                      gpointer data) {
  const auto* state = static_cast<const DecodeState*>(data);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(element), "max-threads");
  if (spec != nullptr && G_PARAM_SPEC_VALUE_TYPE(spec) == G_TYPE_INT) {
    g_object_set(element, "max-threads", state->decoder_threads.load(), nullptr);
  }
}

void on_no_more_pads(GstElement* /*decodebin*/, gpointer data) {
  static_cast<DecodeState*>(data)->no_more_pads.store(true);
}

// One attempt at the input: a GStreamer pipeline and the state its signal handlers share. A lost
// stream is dropped whole and a new one built, so nothing of a broken pipeline carries over.
struct Connection {
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // Stopping joins the streaming threads, so the handlers cannot run once they are
    // disconnected. Frames already handed out keep their own sample references and stay valid.
    if (pipeline) gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    if (decodebin != nullptr) {
      g_signal_handlers_disconnect_by_data(decodebin, &state);
      if (rtsp != nullptr) g_signal_handlers_disconnect_by_data(decodebin, rtsp);
    }
  }

  // Declared before the pipeline so that it outlives the pipeline's streaming threads.
  DecodeState state;
  RtspSettings* rtsp = nullptr;  // the source's, which outlives every connection
  gst::PipelinePtr pipeline;
  GstElement* decodebin = nullptr;  // borrowed from the pipeline; null unless uridecodebin
  GstAppSink* appsink = nullptr;    // borrowed from the pipeline
  gst::BusPtr bus;

  bool no_video() const { return state.no_more_pads.load() && !state.video_linked.load(); }
};

constexpr auto kMaxDelay = std::chrono::hours(1);
constexpr int kMaxDecoderThreads = 64;

std::string seconds_text(std::chrono::nanoseconds duration) {
  return fmt::format("{:g}", std::chrono::duration<double>(duration).count());
}

void check_options(const SourceOptions& options, const std::string& uri) {
  using std::chrono::milliseconds;
  if (options.stall_timeout < milliseconds(100) || options.stall_timeout > kMaxDelay) {
    throw ConfigError(fmt::format("input '{}': stall_timeout must be from 0.1 to 3600 s, not {} s",
                                  uri, seconds_text(options.stall_timeout)));
  }
  if (options.decoder_threads < 0 || options.decoder_threads > kMaxDecoderThreads) {
    throw ConfigError(fmt::format(
        "input '{}': decoder_threads must be from 0 (the decoder's choice) to {}, not {}", uri,
        kMaxDecoderThreads, options.decoder_threads));
  }
  if (options.reconnect_attempts < -1) {
    throw ConfigError(fmt::format(
        "input '{}': reconnect_attempts must be -1 (forever), 0 (never) or more, not {}", uri,
        options.reconnect_attempts));
  }
  if (options.reconnect_delay < milliseconds(1) || options.reconnect_delay > kMaxDelay) {
    throw ConfigError(fmt::format(
        "input '{}': reconnect_delay must be from 0.001 to 3600 s, not {} s", uri,
        seconds_text(options.reconnect_delay)));
  }
  if (options.reconnect_max_delay < options.reconnect_delay ||
      options.reconnect_max_delay > kMaxDelay) {
    throw ConfigError(fmt::format(
        "input '{}': reconnect_max_delay must be from reconnect_delay ({} s) to 3600 s, not {} s",
        uri, seconds_text(options.reconnect_delay), seconds_text(options.reconnect_max_delay)));
  }
}

class GstSource final : public Source {
 public:
  explicit GstSource(const SourceOptions& options);
  ~GstSource() override;

  const StreamInfo& info() const override { return info_; }
  Read read(Frame& frame, std::string& error) override;
  void interrupt() override;
  SourceStatus status() const override;

 private:
  void check_local_input(InputKind kind, const std::string& input) const;
  std::unique_ptr<Connection> build();
  GstElement* add(Connection& connection, const char* factory, const char* name) const;
  GstElement* add_description(Connection& connection, const std::string& description) const;
  void open(std::chrono::seconds timeout, bool known_live);
  bool wait_for_preroll(std::chrono::steady_clock::time_point deadline);
  // Pulls the first sample of a playing connection into first_sample_. False if interrupted;
  // throws RuntimeError if the connection fails, ends or gives nothing before `deadline`.
  bool wait_for_first_sample(std::chrono::steady_clock::time_point deadline,
                             const std::string& timeout_message);
  void play();
  [[noreturn]] void fail_to_open(GstMessage* message) const;
  void read_stream_info(GstCaps* caps);
  const GstVideoInfo* info_for(GstSample* sample);
  // Never inlined: the TSan suppression for the sample hand-over names this function.
  [[gnu::noinline]] Read deliver(gst::SamplePtr sample, Frame& frame, std::string& error);
  // Brings a lost stream back (see the header); `reason` says why it was lost. By value: callers
  // pass pending_error_, which reconnecting clears.
  Read reconnect(Frame& frame, std::string& error, std::string reason);
  // Takes the next error off the connection's bus into pending_error_, unless one is pending.
  void take_bus_error(const Connection& connection);
  // Waits `delay` unless interrupted first; false if interrupted.
  bool pause(std::chrono::nanoseconds delay);
  Read end(Read result);
  void set_state(SourceStatus::State state);

  SourceOptions options_;
  InputKind kind_ = InputKind::kPath;
  StreamInfo info_;
  bool reconnectable_ = false;
  // Declared before the connection so that it outlives the connection's streaming threads.
  RtspSettings rtsp_;
  std::unique_ptr<Connection> connection_;
  std::string pending_error_;
  gst::SamplePtr first_sample_;  // a connection's first frame, pulled while opening it
  gst::CapsPtr last_caps_;
  GstVideoInfo last_info_{};

  // Continuity across reconnections; touched by the reading thread only.
  std::int64_t pts_offset_ns_ = 0;    // added to the current connection's timestamps
  std::int64_t last_pts_ns_ = -1;     // of the last frame delivered, offset included
  bool rebase_pts_ = false;           // the next frame is the first of a new connection
  std::vector<StreamEvent> pending_events_;  // for the next frame delivered
  Clock::time_point last_frame_at_{};
  std::chrono::system_clock::time_point last_frame_wall_{};
  std::mt19937 random_{std::random_device{}()};

  std::atomic<bool> interrupted_{false};
  std::mutex wait_mutex_;  // with wait_cv_: interrupt() wakes a reconnection wait
  std::condition_variable wait_cv_;

  mutable std::mutex status_mutex_;
  SourceStatus status_;
};

GstSource::GstSource(const SourceOptions& options) : options_(options) {
  gst::ensure_initialized();
  const std::string& input = options.input;
  info_.uri = gst::mask_credentials(input);
  if (input.empty()) throw ConfigError("no input given; name a video file or a URI");
  check_options(options, info_.uri);
  kind_ = kind_of(input);
  check_local_input(kind_, input);
  if (options.realtime && kind_ != InputKind::kPath && kind_ != InputKind::kUri) {
    throw ConfigError(fmt::format(
        "input '{}': realtime replays a file at its own rate; this input is live already, so "
        "leave realtime out", info_.uri));
  }
  rtsp_.transport = options.transport;
  rtsp_.latency_ms = options.latency_ms;
  status_.state = SourceStatus::State::kConnecting;
  connection_ = build();
  const bool known_live =
      kind_ == InputKind::kRtsp || kind_ == InputKind::kTest || kind_ == InputKind::kCamera;
  open(options.open_timeout, known_live);
  // A test pattern cannot be lost, and a file (even replayed in real time) that ends has ended.
  reconnectable_ = info_.live && !options.realtime && kind_ != InputKind::kTest &&
                   options.reconnect_attempts != 0;
  if (options.realtime) info_.live = true;
  set_state(SourceStatus::State::kStreaming);
}

GstSource::~GstSource() {
  first_sample_.reset();
  connection_.reset();
}

void GstSource::interrupt() {
  {
    // Set under the wait's mutex so that a reconnection wait cannot miss it.
    std::lock_guard lock(wait_mutex_);
    interrupted_.store(true);
  }
  wait_cv_.notify_all();
}

SourceStatus GstSource::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void GstSource::set_state(SourceStatus::State state) {
  std::lock_guard lock(status_mutex_);
  status_.state = state;
}

Source::Read GstSource::end(Read result) {
  set_state(SourceStatus::State::kEnded);
  return result;
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
    // A path that cannot even be looked up (too long, a file where a folder should be) says why.
    if (ec && ec != std::errc::no_such_file_or_directory) {
      throw ConfigError(fmt::format("input '{}' cannot be opened: {}; check the path", input,
                                    ec.message()));
    }
    throw ConfigError(fmt::format("input '{}' does not exist; check the path or give a URI", input));
  }
  if (fs::is_directory(input, ec)) {
    throw ConfigError(fmt::format("input '{}' is a directory; name a video file", input));
  }
  if (::access(input.c_str(), R_OK) != 0) {
    throw ConfigError(fmt::format("input '{}' is not readable: {}; check its permissions", input,
                                  std::strerror(errno)));
  }
  // GStreamer would only say that the stream contains no data.
  if (fs::is_regular_file(input, ec) && fs::file_size(input, ec) == 0 && !ec) {
    throw RuntimeError(fmt::format("input '{}' is empty (0 bytes); name a complete video file",
                                   input));
  }
}

// Each element joins the pipeline as soon as it exists, so the pipeline owns it even if a later
// one is missing and building throws.
GstElement* GstSource::add(Connection& connection, const char* factory, const char* name) const {
  GstElement* element = gst::make_element(factory, name);
  gst_bin_add(GST_BIN(connection.pipeline.get()), element);
  return element;
}

GstElement* GstSource::add_description(Connection& connection,
                                       const std::string& description) const {
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
    if (kind_ == InputKind::kTest) {
      throw ConfigError(fmt::format(
          "input '{}': {}; name a videotestsrc pattern, e.g. test:ball, test:smpte, test:snow "
          "(gst-inspect-1.0 videotestsrc lists them)", info_.uri, reason));
    }
    throw ConfigError(fmt::format(
        "input '{}' is not a usable GStreamer description: {}; check it with gst-launch-1.0 "
        "... ! fakesink", info_.uri, reason));
  }
  gst_bin_add(GST_BIN(connection.pipeline.get()), bin);
  return bin;
}

std::unique_ptr<Connection> GstSource::build() {
  auto connection = std::make_unique<Connection>();
  connection->pipeline.reset(gst_pipeline_new("capture"));
  GstElement* front = nullptr;
  switch (kind_) {
    case InputKind::kTest: {
      std::string pattern = options_.input.substr(std::strlen(kTestPrefix));
      if (pattern.empty()) pattern = "smpte";
      if (!is_plain_name(pattern)) {
        throw ConfigError(fmt::format(
            "input '{}': '{}' is not a test pattern name; use e.g. test:ball or test:smpte",
            info_.uri, pattern));
      }
      front = add_description(
          *connection,
          fmt::format("videotestsrc is-live=true pattern={} ! {}", pattern,
                      raw_caps(options_.width > 0 ? options_.width : 640,
                               options_.height > 0 ? options_.height : 480,
                               options_.fps > 0 ? options_.fps : 25)));
      break;
    }
    case InputKind::kCamera: {
      std::string description = fmt::format("v4l2src device=\"{}\"", options_.input);
      if (options_.width > 0 || options_.height > 0 || options_.fps > 0) {
        description += " ! " + raw_caps(options_.width, options_.height, options_.fps);
      }
      front = add_description(*connection, description);
      break;
    }
    case InputKind::kDescription:
      front = add_description(*connection, options_.input.substr(std::strlen(kDescriptionPrefix)));
      break;
    case InputKind::kPath:
    case InputKind::kUri:
    case InputKind::kRtsp:
      connection->decodebin = add(*connection, "uridecodebin", "decode");
      g_object_set(connection->decodebin, "uri", gst::to_uri(options_.input).c_str(), nullptr);
      break;
  }
  GstElement* convert = add(*connection, "videoconvert", "convert");
  GstElement* filter = add(*connection, "capsfilter", "bgrx");
  GstElement* sink = add(*connection, "appsink", "frames");
  connection->appsink = GST_APP_SINK(sink);
  connection->state.convert = convert;
  connection->state.decoder_threads.store(options_.decoder_threads);

  gst::CapsPtr bgrx(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGRx", nullptr));
  g_object_set(filter, "caps", bgrx.get(), nullptr);
  const bool live_by_nature =
      kind_ == InputKind::kRtsp || kind_ == InputKind::kTest || kind_ == InputKind::kCamera;
  // A file is not synchronised to the clock (frames as fast as they are taken) unless replayed in
  // real time; a full appsink then blocks decoding, so a file loses no frame. A live source is
  // paced by itself, and a full appsink drops its oldest frame rather than stall the camera or
  // the server. The sink's copy of the last sample is disabled so it does not pin one extra
  // decoded buffer.
  g_object_set(sink, "sync", options_.realtime ? TRUE : FALSE, "max-buffers",
               static_cast<guint>(std::max<std::size_t>(options_.max_buffers, 1)), "drop",
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
    g_signal_connect(connection->decodebin, "pad-added", G_CALLBACK(on_pad_added),
                     &connection->state);
    g_signal_connect(connection->decodebin, "no-more-pads", G_CALLBACK(on_no_more_pads),
                     &connection->state);
    g_signal_connect(connection->decodebin, "deep-element-added", G_CALLBACK(on_element_added),
                     &connection->state);
    if (kind_ == InputKind::kRtsp) {
      connection->rtsp = &rtsp_;
      g_signal_connect(connection->decodebin, "source-setup", G_CALLBACK(on_source_setup),
                       &rtsp_);
    }
  }
  connection->bus.reset(gst_element_get_bus(connection->pipeline.get()));
  return connection;
}

void GstSource::fail_to_open(GstMessage* message) const {
  if (connection_->no_video()) {
    throw RuntimeError(no_video_message(info_.uri));
  }
  const std::string hint =
      kind_ == InputKind::kPath
          ? std::string("; is it a complete video file in a format GStreamer can decode?")
          : std::string();
  std::string reason = message != nullptr ? gst::describe(message) : "no details";
  // GStreamer's messages end in a full stop, which would end this sentence before the hint.
  if (!hint.empty() && !reason.empty() && reason.back() == '.') reason.pop_back();
  throw RuntimeError(fmt::format("cannot open input '{}': {}{}", info_.uri, reason, hint));
}

void GstSource::play() {
  GstElement* pipeline = connection_->pipeline.get();
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(connection_->bus.get());
    throw RuntimeError(fmt::format("cannot play input '{}': {}", info_.uri,
                                   message ? gst::describe(message.get()) : "state change failed"));
  }
}

void GstSource::open(std::chrono::seconds timeout, bool known_live) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string timeout_message = fmt::format(
      "input '{}' gave no frame within {} s; check that it is reachable and plays, or raise the "
      "open timeout", info_.uri, timeout.count());
  if (!known_live) {
    // A file prerolls in PAUSED; a source that turns out to be live answers NO_PREROLL instead.
    const GstStateChangeReturn change =
        gst_element_set_state(connection_->pipeline.get(), GST_STATE_PAUSED);
    if (change == GST_STATE_CHANGE_FAILURE) {
      gst::MessagePtr message = gst::pop_error(connection_->bus.get());
      fail_to_open(message.get());
    }
    if (change != GST_STATE_CHANGE_NO_PREROLL) {
      if (change == GST_STATE_CHANGE_ASYNC && !wait_for_preroll(deadline)) {
        throw RuntimeError(timeout_message);
      }
      // A sink also prerolls on end of stream, which a video track without a readable frame
      // reaches at once. Taking the preroll sample does not take the frame from the stream: it is
      // still rendered, and pulled by read(), once playing.
      const gst::SamplePtr preroll(gst_app_sink_try_pull_preroll(connection_->appsink, 0));
      if (!preroll) throw RuntimeError(ended_early_message(info_.uri));
      gst::PadPtr pad(gst_element_get_static_pad(GST_ELEMENT(connection_->appsink), "sink"));
      gst::CapsPtr caps(gst_pad_get_current_caps(pad.get()));
      read_stream_info(caps.get());
      play();
      return;
    }
  }
  info_.live = true;
  play();
  // Nobody can interrupt a source that is still being constructed, so this returns a sample.
  wait_for_first_sample(deadline, timeout_message);
  read_stream_info(gst_sample_get_caps(first_sample_.get()));
}

bool GstSource::wait_for_preroll(std::chrono::steady_clock::time_point deadline) {
  const auto types =
      static_cast<GstMessageType>(GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  const Connection& connection = *connection_;
  // Sliced so that a stream without video (decodebin has announced all its pads, none of them
  // video) is recognised at once instead of waiting for the timeout or a vaguer error.
  for (;;) {
    if (connection.no_video()) fail_to_open(nullptr);
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, kOpenSlice);
    gst::MessagePtr message(
        gst_bus_timed_pop_filtered(connection.bus.get(), to_clock_time(slice), types));
    if (!message) continue;
    switch (GST_MESSAGE_TYPE(message.get())) {
      case GST_MESSAGE_ERROR:
        fail_to_open(message.get());
      case GST_MESSAGE_EOS:
        if (connection.decodebin != nullptr && !connection.state.video_linked.load()) {
          throw RuntimeError(no_video_message(info_.uri));
        }
        throw RuntimeError(ended_early_message(info_.uri));
      case GST_MESSAGE_ASYNC_DONE:
        if (GST_MESSAGE_SRC(message.get()) == GST_OBJECT(connection.pipeline.get())) {
          // Prerolled without a video pad: every stream went elsewhere (audio, subtitles).
          if (connection.decodebin != nullptr && !connection.state.video_linked.load()) {
            throw RuntimeError(no_video_message(info_.uri));
          }
          return true;
        }
        break;
      default:
        break;
    }
  }
}

bool GstSource::wait_for_first_sample(std::chrono::steady_clock::time_point deadline,
                                      const std::string& timeout_message) {
  const Connection& connection = *connection_;
  for (;;) {
    if (interrupted_.load()) return false;
    gst::MessagePtr message = gst::pop_error(connection.bus.get());
    if (message) fail_to_open(message.get());
    if (connection.no_video()) fail_to_open(nullptr);
    first_sample_.reset(
        gst_app_sink_try_pull_sample(connection.appsink, to_clock_time(kOpenSlice)));
    if (first_sample_) return true;
    if (gst_app_sink_is_eos(connection.appsink)) {
      throw RuntimeError(ended_early_message(info_.uri));
    }
    if (std::chrono::steady_clock::now() >= deadline) throw RuntimeError(timeout_message);
  }
}

void GstSource::read_stream_info(GstCaps* caps) {
  GstVideoInfo video{};
  if (caps == nullptr || !gst_video_info_from_caps(&video, caps)) {
    // Prerolled on EOS or with unusable caps: there is no frame to describe.
    throw RuntimeError(no_video_message(info_.uri));
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
  if (gst_element_query_duration(connection_->pipeline.get(), GST_FORMAT_TIME, &duration) &&
      duration > 0) {
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
  if (video == nullptr || GST_VIDEO_INFO_FORMAT(video) != GST_VIDEO_FORMAT_BGRx) {
    error = fmt::format("input '{}': a decoded frame has no usable BGRx caps", info_.uri);
    return end(Read::kError);
  }
  GstBuffer* buffer = gst_sample_get_buffer(sample.get());
  const std::int64_t pts = gst::to_ns(GST_BUFFER_PTS(buffer));
  const std::int64_t duration = gst::to_ns(GST_BUFFER_DURATION(buffer));
  const MappedSample mapped(sample.get(), *video);
  if (!mapped.mapped()) {
    error = fmt::format("input '{}': cannot map a decoded frame for reading", info_.uri);
    return end(Read::kError);
  }
  const auto now = Clock::now();
  const auto wall_now = std::chrono::system_clock::now();
  if (!pending_events_.empty()) {
    pending_events_.back().duration =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_frame_at_);
  }
  if (rebase_pts_ && pts >= 0) {
    // A new pipeline starts its clock anew: continue from where the last one stopped, plus the
    // time the stream was away, so outputs see monotonic time with the gap in its place.
    const std::int64_t gap =
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_frame_at_).count();
    pts_offset_ns_ = last_pts_ns_ >= 0 ? last_pts_ns_ + gap - pts : 0;
    rebase_pts_ = false;
  }
  // videoconvert writes BGRx through a fast path and BGR through its generic one, which took twice
  // the time; the two give the same pixels. Repacking to BGR here takes a fraction of the
  // difference, and the frame then owns its pixels, so the sample goes back to the decoder at once.
  const GstVideoFrame& mapped_frame = mapped.frame();
  const cv::Mat bgrx(GST_VIDEO_FRAME_HEIGHT(&mapped_frame), GST_VIDEO_FRAME_WIDTH(&mapped_frame),
                     CV_8UC4, GST_VIDEO_FRAME_PLANE_DATA(&mapped_frame, 0),
                     static_cast<std::size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&mapped_frame, 0)));
  cv::Mat bgr;  // new each time: the frame passed in may share its old pixels with another holder
  cv::cvtColor(bgrx, bgr, cv::COLOR_BGRA2BGR);
  frame.image = bgr;
  frame.owner.reset();
  frame.pts_ns = pts >= 0 ? pts + pts_offset_ns_ : -1;
  frame.duration_ns = duration;
  frame.captured = now;
  frame.events = std::move(pending_events_);
  pending_events_.clear();
  if (frame.pts_ns >= 0) last_pts_ns_ = frame.pts_ns;
  last_frame_at_ = now;
  last_frame_wall_ = wall_now;
  {
    std::lock_guard lock(status_mutex_);
    status_.state = SourceStatus::State::kStreaming;
    ++status_.frames;
    status_.last_frame = wall_now;
  }
  return Read::kFrame;
}

Source::Read GstSource::read(Frame& frame, std::string& error) {
  if (first_sample_) return deliver(std::move(first_sample_), frame, error);
  if (!connection_) return end(Read::kEnd);  // every reconnection attempt failed
  // A stall is counted from when the reader asked, not from the last frame: frames the reader
  // was too busy to take are waiting in the sink, and a stream that still flows is not stalled.
  const auto waiting_since = Clock::now();
  for (;;) {
    if (interrupted_.load()) return end(Read::kEnd);
    const Connection& connection = *connection_;
    // Looking at the bus on every read also discards the informational messages a long stream
    // keeps posting, which nobody else reads.
    take_bus_error(connection);
    gst::SamplePtr sample(
        gst_app_sink_try_pull_sample(connection.appsink, to_clock_time(kPullSlice)));
    if (sample) return deliver(std::move(sample), frame, error);
    // Frames decoded before an error or the end are still delivered; the loss is acted on once
    // the sink runs dry, which is when it actually stops the stream.
    if (gst_app_sink_is_eos(connection.appsink)) {
      // A source that fails posts its error and then ends the stream, so an error may be waiting
      // behind the end; it, not the end, is why the stream was lost.
      take_bus_error(connection);
      // A gst: description that ends without an error was written to end (num-buffers, a finite
      // source); a server's or camera's stream that ends was cut off.
      if (!reconnectable_ || (kind_ == InputKind::kDescription && pending_error_.empty())) {
        return end(Read::kEnd);
      }
      return reconnect(frame, error, pending_error_.empty() ? "the stream ended" : pending_error_);
    }
    if (!pending_error_.empty()) {
      if (!reconnectable_) {
        error = fmt::format("input '{}' failed: {}", info_.uri, pending_error_);
        return end(Read::kError);
      }
      return reconnect(frame, error, pending_error_);
    }
    if (info_.live && Clock::now() - waiting_since >= options_.stall_timeout) {
      const std::string stalled =
          fmt::format("no frame for {} s", seconds_text(options_.stall_timeout));
      if (!reconnectable_) {
        error = fmt::format(
            "input '{}' stalled: {}; check that it still plays, or raise the stall timeout "
            "(--stall-timeout)", info_.uri, stalled);
        return end(Read::kError);
      }
      return reconnect(frame, error, stalled);
    }
  }
}

void GstSource::take_bus_error(const Connection& connection) {
  if (!pending_error_.empty()) return;
  gst::MessagePtr message = gst::pop_error(connection.bus.get());
  if (message) pending_error_ = gst::describe(message.get());
}

bool GstSource::pause(std::chrono::nanoseconds delay) {
  std::unique_lock lock(wait_mutex_);
  return !wait_cv_.wait_for(lock, delay, [this] { return interrupted_.load(); });
}

Source::Read GstSource::reconnect(Frame& frame, std::string& error, std::string reason) {
  set_state(SourceStatus::State::kReconnecting);
  const auto lost_at = Clock::now();
  // Torn down at once: a half-broken pipeline may still hold the server's or device's resources.
  first_sample_.reset();
  connection_.reset();
  pending_error_.clear();
  std::string last_failure = reason;
  std::chrono::nanoseconds delay = options_.reconnect_delay;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const std::string timeout_message =
      fmt::format("no frame within {} s", seconds_text(options_.stall_timeout));
  int attempts = 0;
  for (;;) {
    if (options_.reconnect_attempts >= 0 && attempts >= options_.reconnect_attempts) {
      // GStreamer's messages end in a full stop, which would end this sentence too early.
      if (!last_failure.empty() && last_failure.back() == '.') last_failure.pop_back();
      error = fmt::format(
          "input '{}' was lost ({}) and did not come back after {} reconnection attempt{} in "
          "{:.1f} s; last attempt: {}; check the input, or allow more attempts with "
          "--reconnect-attempts (-1: forever)",
          info_.uri, reason, attempts, attempts == 1 ? "" : "s",
          std::chrono::duration<double>(Clock::now() - lost_at).count(), last_failure);
      return end(Read::kError);
    }
    // Jitter keeps many clients of one server that went away from all coming back at once.
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::nano>(static_cast<double>(delay.count()) *
                                                 jitter(random_)));
    if (!pause(wait)) return end(Read::kEnd);
    delay = std::min<std::chrono::nanoseconds>(delay * 2, options_.reconnect_max_delay);
    ++attempts;
    {
      std::lock_guard lock(status_mutex_);
      ++status_.reconnect_attempts;
    }
    try {
      connection_ = build();
      play();
      if (!wait_for_first_sample(Clock::now() + options_.stall_timeout, timeout_message)) {
        return end(Read::kEnd);
      }
    } catch (const std::runtime_error& e) {
      // ConfigError and RuntimeError alike: a device that is unplugged may be plugged back in.
      last_failure = e.what();
      first_sample_.reset();
      connection_.reset();
      continue;
    }
    GstVideoInfo video{};
    GstCaps* caps = gst_sample_get_caps(first_sample_.get());
    if (caps == nullptr || !gst_video_info_from_caps(&video, caps)) {
      last_failure = fmt::format("input '{}' came back without usable video caps", info_.uri);
      first_sample_.reset();
      connection_.reset();
      continue;
    }
    if (GST_VIDEO_INFO_WIDTH(&video) != info_.width ||
        GST_VIDEO_INFO_HEIGHT(&video) != info_.height) {
      error = fmt::format(
          "input '{}' came back at {}x{}, not at the {}x{} this run's outputs were made for; start "
          "lookout again to take the new size",
          info_.uri, GST_VIDEO_INFO_WIDTH(&video), GST_VIDEO_INFO_HEIGHT(&video), info_.width,
          info_.height);
      return end(Read::kError);
    }
    StreamEvent gap;
    gap.kind = StreamEvent::Kind::kGap;
    gap.start = last_frame_wall_;
    gap.attempts = attempts;
    gap.reason = gst::mask_credentials(reason);
    pending_events_.push_back(std::move(gap));
    rebase_pts_ = true;
    {
      std::lock_guard lock(status_mutex_);
      ++status_.reconnects;
    }
    return deliver(std::move(first_sample_), frame, error);
  }
}

}  // namespace

std::unique_ptr<Source> open_source(const SourceOptions& options) {
  return std::make_unique<GstSource>(options);
}

}  // namespace lookout
