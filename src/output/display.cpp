#include "lookout/output/display.h"

#include <fmt/core.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <atomic>
#include <cstdlib>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <vector>

#include "gstreamer/frame_buffer.h"
#include "gstreamer/gst_support.h"
#include "lookout/core/error.h"

namespace lookout {
namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The video sinks to try, best first, for the session we are in. autovideosink is not among
// them: it would also try kmssink, which takes over a text console instead of opening a window.
std::vector<const char*> candidate_sinks(bool x11, bool wayland) {
  std::vector<const char*> sinks;
  if (x11) {
    sinks.push_back("xvimagesink");  // scales on the graphics card; Xvfb and some drivers lack it
    sinks.push_back("ximagesink");
  }
  if (wayland) sinks.push_back("waylandsink");
  sinks.push_back("glimagesink");
  return sinks;
}

bool has_property(GstElement* element, const char* name) {
  return g_object_class_find_property(G_OBJECT_GET_CLASS(element), name) != nullptr;
}

// The sinks report a closed window as a RESOURCE / NOT_FOUND error ("Output window was closed").
bool is_window_closed(GstMessage* message) {
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ERROR) return false;
  // The window's sink is the pipeline's only sink.
  if (GST_MESSAGE_SRC(message) == nullptr ||
      !GST_OBJECT_FLAG_IS_SET(GST_MESSAGE_SRC(message), GST_ELEMENT_FLAG_SINK)) {
    return false;
  }
  GError* error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  const bool closed = error != nullptr && error->domain == GST_RESOURCE_ERROR &&
                      error->code == GST_RESOURCE_ERROR_NOT_FOUND;
  g_clear_error(&error);
  return closed;
}

}  // namespace

struct DisplayWindow::Impl {
  DisplayOptions options;
  gst::OutputTimestamps timestamps{0};
  bool finished = false;
  bool bus_flushing = false;
  std::string failure;  // the first error other than a closed window
  std::string sink_factory;

  // Set on GStreamer's threads (bus sync handler, pad probe), read on any.
  std::atomic<bool> closed{false};
  std::atomic<std::int64_t> shown{0};

  // Declared after what the callbacks use, so the pipeline stops before those go away.
  gst::PipelinePtr pipeline;
  GstAppSrc* appsrc = nullptr;  // borrowed from the pipeline
  gst::BusPtr bus;

  void build(const std::string& session);
  GstElement* open_sink(const std::string& session);
  // Takes pending bus errors: a closed window sets `closed`, anything else `failure`.
  void check_bus();
  void on_closed();
  std::optional<std::string> finish_quietly();

  static GstBusSyncReply on_bus_message(GstBus* bus, GstMessage* message, gpointer data);
  static GstPadProbeReturn on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data);

  ~Impl() {
    if (bus) gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
  }
};

GstBusSyncReply DisplayWindow::Impl::on_bus_message(GstBus* /*bus*/, GstMessage* message,
                                                    gpointer data) {
  // Runs on the thread that posted the message (the sink's event thread), so that closing the
  // window is seen at once even when no frame comes to look at the bus.
  if (is_window_closed(message)) static_cast<Impl*>(data)->closed.store(true);
  return GST_BUS_PASS;
}

GstPadProbeReturn DisplayWindow::Impl::on_buffer(GstPad* /*pad*/, GstPadProbeInfo* /*info*/,
                                                 gpointer data) {
  static_cast<Impl*>(data)->shown.fetch_add(1);
  return GST_PAD_PROBE_OK;
}

GstElement* DisplayWindow::Impl::open_sink(const std::string& session) {
  const bool x11 = !environment("DISPLAY").empty();
  const bool wayland = !environment("WAYLAND_DISPLAY").empty();
  std::string reasons;
  for (const char* factory : candidate_sinks(x11, wayland)) {
    GstElement* sink = gst_element_factory_make(factory, factory);
    if (sink == nullptr) continue;  // plugin not installed
    // Shown as it comes: waiting for each frame's time would hold up the pipeline.
    g_object_set(sink, "sync", FALSE, nullptr);
    if (has_property(sink, "force-aspect-ratio"))
      g_object_set(sink, "force-aspect-ratio", TRUE, nullptr);
    gst_bin_add(GST_BIN(pipeline.get()), sink);
    // READY opens the connection to the screen, which is what can fail.
    if (gst_element_set_state(sink, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS) {
      sink_factory = factory;
      return sink;
    }
    gst::MessagePtr message = gst::pop_error(bus.get());
    reasons += fmt::format(
        "{}{}", reasons.empty() ? "" : "; ",
        message ? gst::describe(message.get()) : factory + std::string(": cannot start"));
    while (gst::pop_error(bus.get())) {
    }
    gst_element_set_state(sink, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(pipeline.get()), sink);
  }
  throw ConfigError(fmt::format(
      "--display cannot open a window on {}: {}; check that the graphical session is running and "
      "reachable, or use --restream or --output instead",
      session, reasons.empty() ? "no video sink is installed (gstreamer1.0-x)" : reasons));
}

void DisplayWindow::Impl::build(const std::string& session) {
  pipeline.reset(gst_pipeline_new("display"));
  bus.reset(gst_element_get_bus(pipeline.get()));
  GstElement* source = gst::make_element("appsrc", "appsrc");
  GstElement* convert = gst::make_element("videoconvert", "videoconvert");
  gst_bin_add_many(GST_BIN(pipeline.get()), source, convert, nullptr);
  appsrc = GST_APP_SRC(source);
  gst::CapsPtr caps(gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width",
                                        G_TYPE_INT, options.width, "height", G_TYPE_INT,
                                        options.height, "framerate", GST_TYPE_FRACTION,
                                        options.fps_num, options.fps_den, nullptr));
  // Live, bounded and never blocking: process() drops frames itself while the window is behind.
  g_object_set(source, "caps", caps.get(), "format", GST_FORMAT_TIME, "is-live", TRUE, "block",
               FALSE, "max-bytes", static_cast<guint64>(0), "max-buffers",
               static_cast<guint64>(kDisplayQueuedFrames), nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "leaky-type", "upstream");

  GstElement* sink = open_sink(session);
  if (!gst_element_link(source, convert) || !gst_element_link(convert, sink)) {
    throw RuntimeError(
        fmt::format("display: cannot link appsrc, videoconvert and {}", sink_factory));
  }
  gst_bus_set_sync_handler(bus.get(), on_bus_message, this, nullptr);
  gst::PadPtr pad(gst_element_get_static_pad(sink, "sink"));
  gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, on_buffer, this, nullptr);

  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst::MessagePtr message = gst::pop_error(bus.get());
    throw ConfigError(fmt::format(
        "--display cannot open a window on {}: {}; use --restream or --output instead", session,
        message ? gst::describe(message.get()) : "the display pipeline did not start"));
  }
  // The sinks title their window with the stream's title tag.
  GstTagList* tags =
      gst_tag_list_new(GST_TAG_TITLE, ("lookout: " + options.title).c_str(), nullptr);
  gst_element_send_event(source, gst_event_new_tag(tags));
}

void DisplayWindow::Impl::on_closed() {
  closed.store(true);
  if (bus_flushing) return;
  // Nothing reads the bus any more; flushing keeps it from collecting messages.
  gst_bus_set_flushing(bus.get(), TRUE);
  bus_flushing = true;
}

void DisplayWindow::Impl::check_bus() {
  while (failure.empty() && !closed.load()) {
    gst::MessagePtr message = gst::pop_error(bus.get());
    if (!message) return;
    if (is_window_closed(message.get())) {
      closed.store(true);
    } else {
      failure = fmt::format("display ({}) failed: {}", sink_factory, gst::describe(message.get()));
    }
  }
  if (closed.load()) on_closed();
}

std::optional<std::string> DisplayWindow::Impl::finish_quietly() {
  if (finished) return std::nullopt;
  finished = true;
  check_bus();
  if (failure.empty() && !closed.load() && gst_app_src_end_of_stream(appsrc) == GST_FLOW_OK) {
    // The frames already handed over still reach the window; a window that does not take them in
    // time is closed anyway (nothing is lost that a file would keep).
    const auto deadline = std::chrono::steady_clock::now() + options.finish_timeout;
    gst::MessagePtr ending = gst::wait_for_eos_or_error(bus.get(), deadline);
    if (ending && GST_MESSAGE_TYPE(ending.get()) == GST_MESSAGE_ERROR &&
        !is_window_closed(ending.get())) {
      failure = fmt::format("display ({}) failed while finishing: {}", sink_factory,
                            gst::describe(ending.get()));
    }
  }
  pipeline.reset();
  if (!failure.empty()) return failure;
  return std::nullopt;
}

DisplayWindow::DisplayWindow(DisplayOptions options) : impl_(std::make_unique<Impl>()) {
  const std::string x11 = environment("DISPLAY");
  const std::string wayland = environment("WAYLAND_DISPLAY");
  if (x11.empty() && wayland.empty()) {
    throw ConfigError(
        "--display needs a graphical session, but neither DISPLAY nor WAYLAND_DISPLAY is set "
        "(e.g. over ssh without X forwarding); use --restream or --output instead");
  }
  gst::ensure_initialized();
  if (options.width <= 0 || options.height <= 0) {
    throw ConfigError(
        fmt::format("display: frame size {}x{} is not valid", options.width, options.height));
  }
  if (options.fps_num <= 0 || options.fps_den <= 0) {
    options.fps_num = 25;
    options.fps_den = 1;
  }
  impl_->timestamps =
      gst::OutputTimestamps(static_cast<std::int64_t>(1e9 * options.fps_den / options.fps_num));
  impl_->options = std::move(options);
  const std::string session =
      !x11.empty() ? fmt::format("DISPLAY={}", x11) : fmt::format("WAYLAND_DISPLAY={}", wayland);
  impl_->build(session);
}

DisplayWindow::~DisplayWindow() {
  if (!impl_) return;
  try {
    impl_->finish_quietly();
  } catch (...) {
    // A destructor must not throw; finish() is where failures are reported.
  }
}

bool DisplayWindow::window_closed() const { return impl_->closed.load(); }

std::int64_t DisplayWindow::frames_shown() const { return impl_->shown.load(); }

std::string DisplayWindow::sink_name() const { return impl_->sink_factory; }

void DisplayWindow::process(Frame& frame) {
  if (frame.is_end() || frame.image.empty()) return;
  Impl& impl = *impl_;
  if (impl.finished) return;
  if (impl.closed.load()) {
    impl.on_closed();
    return;
  }
  impl.check_bus();
  if (!impl.failure.empty()) throw RuntimeError(impl.failure);
  if (impl.closed.load()) return;
  if (frame.image.cols != impl.options.width || frame.image.rows != impl.options.height ||
      frame.image.type() != CV_8UC3) {
    throw RuntimeError(fmt::format(
        "display was opened for {}x{} BGR frames but frame {} is {}x{}; a stream that changes "
        "size cannot be shown in one window",
        impl.options.width, impl.options.height, frame.seq, frame.image.cols, frame.image.rows));
  }
  if (gst_app_src_get_current_level_buffers(impl.appsrc) >= kDisplayQueuedFrames) {
    // The window is behind; waiting would hold up the whole pipeline.
    ++frames_dropped_;
    return;
  }

  GstBuffer* buffer = gst::wrap_frame_image(frame);
  GST_BUFFER_PTS(buffer) = static_cast<GstClockTime>(impl.timestamps.next(frame, frames_pushed_));
  GST_BUFFER_DURATION(buffer) = static_cast<GstClockTime>(impl.timestamps.duration(frame));

  const GstFlowReturn flow = gst_app_src_push_buffer(impl.appsrc, buffer);
  if (flow != GST_FLOW_OK) {
    impl.check_bus();
    if (impl.closed.load()) return;
    if (impl.failure.empty()) {
      impl.failure =
          fmt::format("display ({}) failed: {}", impl.sink_factory, gst_flow_get_name(flow));
    }
    throw RuntimeError(impl.failure);
  }
  ++frames_pushed_;
}

void DisplayWindow::finish() {
  if (std::optional<std::string> failure = impl_->finish_quietly()) throw RuntimeError(*failure);
}

}  // namespace lookout
