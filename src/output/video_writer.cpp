#include "lookout/output/video_writer.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <opencv2/core/mat.hpp>
#include <optional>

#include "gstreamer/frame_buffer.h"
#include "gstreamer/gst_support.h"
#include "lookout/core/error.h"

namespace lookout {
namespace {

// Frames the appsrc may hold before process() waits for the encoder: enough to keep it busy,
// few enough that a slow encoder pushes back on the pipeline quickly.
constexpr std::uint64_t kQueuedFrames = 4;
constexpr auto kWaitSlice = std::chrono::milliseconds(20);

const char* muxer_for(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".mp4" || ext == ".m4v" || ext == ".mov") return "mp4mux";
  if (ext == ".mkv") return "matroskamux";
  return nullptr;
}

void check_writable(const std::string& path) {
  // Creating the file is the only reliable test: access() says yes to root on most folders that
  // still refuse files (/proc), and filesink would only fail later, on the pipeline's thread.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw ConfigError(
        fmt::format("cannot write output '{}': {}; choose a writable path with --output", path,
                    std::strerror(errno)));
  }
  ::close(fd);
}

void set_speed_preset(GstElement* encoder, const std::string& preset) {
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(encoder), "speed-preset");
  auto* enum_spec = G_PARAM_SPEC_ENUM(spec);
  if (g_enum_get_value_by_nick(enum_spec->enum_class, preset.c_str()) == nullptr) {
    std::string known;
    for (guint i = 0; i < enum_spec->enum_class->n_values; ++i) {
      if (!known.empty()) known += ", ";
      known += enum_spec->enum_class->values[i].value_nick;
    }
    throw ConfigError(fmt::format("unknown x264 speed preset '{}'; use one of: {}", preset, known));
  }
  gst_util_set_object_arg(G_OBJECT(encoder), "speed-preset", preset.c_str());
}

// Writes every buffer straight to the file: filesink's default buffering holds back up to 64 KiB,
// which for a killed mkv or fragmented mp4 is the last seconds of video or, early on, all of it.
void configure_file_sink(GstElement* sink, const std::string& path) {
  gst_util_set_object_arg(G_OBJECT(sink), "buffer-mode", "unbuffered");
  if (!path.empty()) g_object_set(sink, "location", path.c_str(), nullptr);
}

// The printf-style pattern splitmuxsink expands into segment_path()'s names; a '%' in the path
// itself must not be read as a conversion.
std::string segment_pattern(const std::string& path) {
  std::string escaped;
  for (char c : path) escaped += c == '%' ? std::string("%%") : std::string(1, c);
  const std::filesystem::path as_path(escaped);
  const std::string extension = as_path.extension().string();
  return escaped.substr(0, escaped.size() - extension.size()) + ".%05d" + extension;
}

void check_options(const VideoWriterOptions& options) {
  const std::string& path = options.path;
  if (options.fragment_ms < 0 || options.fragment_ms > kMaxFragmentMs) {
    throw ConfigError(fmt::format(
        "output '{}': fragment_ms {} is out of range; use 0 (an ordinary mp4) or 1 to {} ms", path,
        options.fragment_ms, kMaxFragmentMs));
  }
  if (options.segment_seconds < 0 || options.segment_seconds > kMaxSegmentSeconds) {
    throw ConfigError(fmt::format(
        "output '{}': segment_seconds {} is out of range; use 0 (one file) or 1 to {} s", path,
        options.segment_seconds, kMaxSegmentSeconds));
  }
  if (options.fragment_ms > 0 && std::strcmp(muxer_for(path), "mp4mux") != 0) {
    throw ConfigError(fmt::format(
        "output '{}': fragment_ms {} applies to .mp4, .m4v and .mov only; an .mkv file survives a "
        "crash without it, so set fragment_ms to 0",
        path, options.fragment_ms));
  }
  if (options.fragment_ms > 0 && options.segment_seconds > 0) {
    throw ConfigError(fmt::format(
        "output '{}': segment_seconds {} and fragment_ms {} cannot be combined; every segment is "
        "finalised as it closes, so drop fragment_ms (or write .mkv segments, which also survive a "
        "kill)",
        path, options.segment_seconds, options.fragment_ms));
  }
}

// A bus error worded for the user. A full disk is said in so many words, with what to do:
// GStreamer's own text names neither the file nor the remedy.
std::string write_failure(const std::string& path, GstMessage* message, const char* when) {
  GError* error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  const bool full =
      g_error_matches(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT) != FALSE;
  g_clear_error(&error);
  if (full) {
    return fmt::format(
        "cannot write output '{}'{}: the disk is full ({}); free space on it or write to another "
        "disk with --output", path, when, gst::describe(message));
  }
  return fmt::format("encoding '{}' failed{}: {}", path, when, gst::describe(message));
}

}  // namespace

std::string segment_path(const std::string& path, int index) {
  const std::string extension = std::filesystem::path(path).extension().string();
  return fmt::format("{}.{:05d}{}", path.substr(0, path.size() - extension.size()), index,
                     extension);
}

struct VideoWriter::Impl {
  VideoWriterOptions options;
  gst::OutputTimestamps timestamps{0};
  std::uint64_t max_bytes = 0;
  bool as_i420 = false;  // frames are pushed as I420 converted by OpenCV, else as BGR
  bool finished = false;
  std::string failure;  // the first pipeline error seen; the pipeline cannot finish after one

  // Wakes a process() call waiting for room in the appsrc; signalled from the streaming thread.
  std::mutex room_mutex;
  std::condition_variable room;

  // Declared after what the callbacks use, so the pipeline stops before those go away.
  gst::PipelinePtr pipeline;
  GstAppSrc* appsrc = nullptr;  // borrowed from the pipeline
  gst::BusPtr bus;

  void build();
  void configure_muxer(GstElement* muxer) const;
  void configure_segments(GstElement* splitter, const char* muxer_name) const;
  void start();
  void wait_for_room();
  // Takes a pending bus ERROR, if any, into `failure`; true if the pipeline has failed.
  bool failed();
  std::optional<std::string> finish_quietly();
  static void on_need_data(GstAppSrc* src, guint length, gpointer data);
};

void VideoWriter::Impl::on_need_data(GstAppSrc* /*src*/, guint /*length*/, gpointer data) {
  auto* impl = static_cast<Impl*>(data);
  std::lock_guard lock(impl->room_mutex);
  impl->room.notify_all();
}

void VideoWriter::Impl::build() {
  const char* muxer_name = muxer_for(options.path);
  const bool segmented = options.segment_seconds > 0;
  pipeline.reset(gst_pipeline_new("encode"));
  // With segments, the muxer and the file sink live inside splitmuxsink, which makes a new file
  // (and resets the muxer) for every segment.
  const char* factories[] = {"appsrc",  "videoconvert", "capsfilter",
                             "x264enc", "h264parse",    segmented ? "splitmuxsink" : muxer_name,
                             "filesink"};
  constexpr std::size_t kMost = sizeof factories / sizeof factories[0];
  const std::size_t count = segmented ? kMost - 1 : kMost;
  GstElement* elements[kMost] = {};
  for (std::size_t i = 0; i < count; ++i) {
    elements[i] = gst::make_element(factories[i], factories[i]);
    gst_bin_add(GST_BIN(pipeline.get()), elements[i]);
  }
  GstElement* source = elements[0];
  GstElement* chroma_filter = elements[2];
  GstElement* encoder = elements[3];
  appsrc = GST_APP_SRC(source);

  // Standard-definition frames are converted to I420 before the push (see frame_buffer.h), so
  // videoconvert passes them through; other sizes go in as BGR.
  as_i420 = gst::encodes_as_i420(options.width, options.height);
  gst::CapsPtr caps(as_i420 ? gst::i420_caps(options.width, options.height, options.fps_num,
                                             options.fps_den)
                            : gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR",
                                                  "width", G_TYPE_INT, options.width, "height",
                                                  G_TYPE_INT, options.height, "framerate",
                                                  GST_TYPE_FRACTION, options.fps_num,
                                                  options.fps_den, nullptr));
  const std::uint64_t pixels =
      static_cast<std::uint64_t>(options.width) * static_cast<std::uint64_t>(options.height);
  max_bytes = kQueuedFrames * (as_i420 ? pixels * 3 / 2 : pixels * 3);
  // Not blocking inside appsrc: a push blocked there is not woken by a downstream error, so the
  // stage could hang; process() waits for room itself and watches the bus while it does.
  g_object_set(source, "caps", caps.get(), "format", GST_FORMAT_TIME, "is-live", FALSE, "block",
               FALSE, "max-bytes", static_cast<guint64>(max_bytes), "min-percent", 50u, nullptr);
  GstAppSrcCallbacks callbacks{};
  callbacks.need_data = on_need_data;
  gst_app_src_set_callbacks(appsrc, &callbacks, this, nullptr);

  // x264enc also takes 4:4:4, which videoconvert would pick as closest to BGR; few players decode
  // that profile, so the encoder is given 4:2:0 like cameras and streaming services produce. x264
  // cannot encode 4:2:0 at an odd width or height, and the file keeps the input's size, so only
  // those sizes fall back to 4:4:4.
  const bool even = options.width % 2 == 0 && options.height % 2 == 0;
  gst::CapsPtr chroma(
      gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, even ? "I420" : "Y444", nullptr));
  g_object_set(chroma_filter, "caps", chroma.get(), nullptr);

  set_speed_preset(encoder, options.speed_preset);
  if (options.bitrate_kbps > 0) {
    g_object_set(encoder, "bitrate", static_cast<guint>(options.bitrate_kbps), nullptr);
  } else {
    // Constant quality at x264's default quantizer (the "pass" default is constant bitrate).
    gst_util_set_object_arg(G_OBJECT(encoder), "pass", "qual");
  }
  // No B-frames: with them, frames whose timestamps are unevenly spaced (a live source that skipped
  // some) made x264 and mp4mux put the first frames before the file's start, where players skip
  // them. Without them the encoder also holds no frames back, which keeps output latency low.
  g_object_set(encoder, "bframes", 0u, nullptr);
  // A keyframe about every two seconds keeps seeking in the result cheap. splitmuxsink can only
  // cut at a keyframe, so segments shorter than that need one at least once a segment.
  const double fps = static_cast<double>(options.fps_num) / options.fps_den;
  const double key_seconds = segmented ? std::min(2.0, 1.0 * options.segment_seconds) : 2.0;
  g_object_set(encoder, "key-int-max",
               static_cast<guint>(std::max(1.0, std::round(key_seconds * fps))), nullptr);

  if (segmented) {
    configure_segments(elements[5], muxer_name);
  } else {
    configure_muxer(elements[5]);
    configure_file_sink(elements[6], options.path);
  }

  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (!gst_element_link(elements[i], elements[i + 1])) {
      throw RuntimeError(fmt::format("output '{}': cannot link {} to {}", options.path,
                                     factories[i], factories[i + 1]));
    }
  }
  bus.reset(gst_element_get_bus(pipeline.get()));
}

void VideoWriter::Impl::configure_muxer(GstElement* muxer) const {
  if (std::strcmp(muxer_for(options.path), "matroskamux") == 0) {
    // A cluster is what a player can read back from a killed file, so one closes about every
    // second, keyframe or not (the default allows clusters of a minute).
    g_object_set(muxer, "min-cluster-duration", static_cast<gint64>(GST_SECOND),
                 "max-cluster-duration", static_cast<gint64>(GST_SECOND), nullptr);
  } else if (options.fragment_ms > 0) {
    g_object_set(muxer, "fragment-duration", static_cast<guint>(options.fragment_ms), nullptr);
  }
}

void VideoWriter::Impl::configure_segments(GstElement* splitter, const char* muxer_name) const {
  GstElement* muxer = gst::make_element(muxer_name, muxer_name);
  configure_muxer(muxer);
  GstElement* sink = gst::make_element("filesink", "filesink");
  configure_file_sink(sink, "");
  // splitmuxsink takes ownership of the floating muxer and sink, and sets the sink's location
  // itself for every segment from the pattern.
  g_object_set(splitter, "muxer", muxer, "sink", sink, "location",
               segment_pattern(options.path).c_str(), "max-size-time",
               static_cast<guint64>(options.segment_seconds) * GST_SECOND, nullptr);
}

void VideoWriter::Impl::start() {
  // appsrc is not live, so the pipeline only completes its change to PLAYING once data arrives;
  // opening the file happens synchronously, which is what can fail here.
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(bus.get());
    throw ConfigError(fmt::format(
        "cannot write output '{}': {}; choose a writable path with --output", options.path,
        message ? gst::describe(message.get()) : "pipeline did not start"));
  }
  if (gst::MessagePtr message = gst::pop_error(bus.get())) {
    throw ConfigError(
        fmt::format("cannot write output '{}': {}", options.path, gst::describe(message.get())));
  }
}

bool VideoWriter::Impl::failed() {
  if (failure.empty()) {
    if (gst::MessagePtr message = gst::pop_error(bus.get())) {
      failure = write_failure(options.path, message.get(), "");
    }
  }
  return !failure.empty();
}

void VideoWriter::Impl::wait_for_room() {
  std::unique_lock lock(room_mutex);
  for (;;) {
    if (failed()) throw RuntimeError(failure);
    if (gst_app_src_get_current_level_bytes(appsrc) < max_bytes) return;
    room.wait_for(lock, kWaitSlice);
  }
}

std::optional<std::string> VideoWriter::Impl::finish_quietly() {
  if (finished) return std::nullopt;
  finished = true;
  std::optional<std::string> result;
  // After an error no end of stream can come out of the pipeline, so there is nothing to wait for.
  if (failed()) {
    result = failure;
  } else if (gst_app_src_end_of_stream(appsrc) != GST_FLOW_OK) {
    result =
        fmt::format("encoding '{}' failed: the encoder did not accept end of stream", options.path);
  } else {
    const auto deadline = std::chrono::steady_clock::now() + options.finish_timeout;
    gst::MessagePtr ending = gst::wait_for_eos_or_error(bus.get(), deadline);
    if (!ending) {
      result = fmt::format("encoding '{}' did not finish within {} s; the file may be incomplete",
                           options.path, options.finish_timeout.count());
    } else if (GST_MESSAGE_TYPE(ending.get()) == GST_MESSAGE_ERROR) {
      result = write_failure(options.path, ending.get(), " while finishing");
    }
  }
  pipeline.reset();
  return result;
}

VideoWriter::VideoWriter(VideoWriterOptions options) : impl_(std::make_unique<Impl>()) {
  gst::ensure_initialized();
  const std::string& path = options.path;
  if (muxer_for(path) == nullptr) {
    throw ConfigError(fmt::format(
        "output '{}' has an unsupported extension; use .mp4, .m4v, .mov or .mkv", path));
  }
  if (options.width <= 0 || options.height <= 0) {
    throw ConfigError(fmt::format("output '{}': frame size {}x{} is not valid", path, options.width,
                                  options.height));
  }
  if (options.fps_num <= 0 || options.fps_den <= 0) {
    // The stream did not state a rate; frames keep their own timestamps, the rest assumes 25.
    options.fps_num = 25;
    options.fps_den = 1;
  }
  check_options(options);
  // splitmuxsink opens the files itself, later; the first one stands for all of them here.
  check_writable(options.segment_seconds > 0 ? segment_path(path, 0) : path);
  impl_->timestamps =
      gst::OutputTimestamps(static_cast<std::int64_t>(1e9 * options.fps_den / options.fps_num));
  impl_->options = std::move(options);
  impl_->build();
  impl_->start();
}

VideoWriter::~VideoWriter() {
  if (!impl_) return;
  try {
    impl_->finish_quietly();
  } catch (...) {
    // A destructor must not throw; finish() is where failures are reported.
  }
}

void VideoWriter::process(Frame& frame) {
  if (frame.is_end() || frame.image.empty()) return;
  Impl& impl = *impl_;
  const std::string& file = impl.options.path;
  if (impl.finished) throw RuntimeError(fmt::format("output '{}' is already finished", file));
  if (frame.image.cols != impl.options.width || frame.image.rows != impl.options.height) {
    throw RuntimeError(
        fmt::format("output '{}' was opened for {}x{} frames but frame {} is {}x{}; a stream that "
                    "changes size cannot be written to one file",
                    file, impl.options.width, impl.options.height, frame.seq, frame.image.cols,
                    frame.image.rows));
  }
  if (frame.image.type() != CV_8UC3) {
    throw RuntimeError(fmt::format("output '{}': frame {} is not 8-bit BGR", file, frame.seq));
  }
  impl.wait_for_room();

  GstBuffer* buffer =
      impl.as_i420 ? gst::wrap_frame_as_i420(frame) : gst::wrap_frame_image(frame);
  // Timestamps start at zero in the file; a stream that jumps back (a live reconnect) is kept
  // monotonic, which the encoder requires.
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(impl.timestamps.next(frame, frames_written_));
  GST_BUFFER_DURATION(buffer) = static_cast<GstClockTime>(impl.timestamps.duration(frame));

  const GstFlowReturn flow = gst_app_src_push_buffer(impl.appsrc, buffer);
  if (flow != GST_FLOW_OK) {
    if (!impl.failed()) {
      impl.failure = fmt::format("encoding '{}' failed: {}", file, gst_flow_get_name(flow));
    }
    throw RuntimeError(impl.failure);
  }
  ++frames_written_;
}

void VideoWriter::finish() {
  if (std::optional<std::string> failure = impl_->finish_quietly()) throw RuntimeError(*failure);
}

}  // namespace lookout
