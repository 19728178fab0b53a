#include "lookout/output/rtsp_restream.h"

#include <fmt/core.h>
#include <gst/app/gstappsrc.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <opencv2/core/mat.hpp>
#include <thread>

#include "gstreamer/frame_buffer.h"
#include "gstreamer/gst_support.h"
#include "lookout/core/error.h"

namespace lookout {
namespace {

// The state GLib's callbacks share with the stage. Each signal handler holds it through a
// shared_ptr that GLib frees with the handler, so a media torn down after the stage is gone (on
// GStreamer's threads) never calls into freed memory.
struct Shared {
  std::mutex mutex;
  // The appsrc of the current media, one reference owned; null while no client is connected.
  GstAppSrc* appsrc = nullptr;
  GstRTSPMedia* media = nullptr;  // identifies the media `appsrc` belongs to; not owned
  std::uint64_t generation = 0;   // counts medias, so that process() restarts its timestamps
  bool closed = false;            // finish() has begun: no new media is taken on
  GstCaps* caps = nullptr;        // owned; the appsrc's caps
  std::atomic<std::int64_t> clients{0};

  Shared() = default;
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  ~Shared() {
    if (appsrc != nullptr) gst_object_unref(appsrc);
    if (caps != nullptr) gst_caps_unref(caps);
  }

  // Forgets the current appsrc, if it is still the one of `which_media` or `which_src` (either
  // may be null: any) and returns its reference for the caller to release outside the lock.
  GstAppSrc* take_appsrc(GstRTSPMedia* which_media, GstAppSrc* which_src = nullptr) {
    std::lock_guard lock(mutex);
    if (which_media != nullptr && media != which_media) return nullptr;
    if (which_src != nullptr && appsrc != which_src) return nullptr;
    GstAppSrc* taken = appsrc;
    appsrc = nullptr;
    media = nullptr;
    return taken;
  }
};

using SharedPtr = std::shared_ptr<Shared>;

gpointer hold(const SharedPtr& shared) { return new SharedPtr(shared); }
void release_hold(gpointer data, GClosure* /*closure*/) { delete static_cast<SharedPtr*>(data); }
const SharedPtr& held(gpointer data) { return *static_cast<SharedPtr*>(data); }

void unref_appsrc(GstAppSrc* appsrc) {
  if (appsrc != nullptr) gst_object_unref(appsrc);
}

void on_unprepared(GstRTSPMedia* media, gpointer data) {
  unref_appsrc(held(data)->take_appsrc(media));
}

void on_media_configure(GstRTSPMediaFactory* /*factory*/, GstRTSPMedia* media, gpointer data) {
  const SharedPtr& shared = held(data);
  GstElement* bin = gst_rtsp_media_get_element(media);
  GstElement* source = gst_bin_get_by_name_recurse_up(GST_BIN(bin), "src");
  gst_object_unref(bin);
  if (source == nullptr) return;
  // Bounded and never blocking the pushing thread: process() drops frames itself while
  // kRestreamQueuedFrames are waiting; the leaky queue is only a backstop.
  g_object_set(source, "caps", shared->caps, "format", GST_FORMAT_TIME, "is-live", TRUE, "block",
               FALSE, "max-bytes", static_cast<guint64>(0), "max-buffers",
               static_cast<guint64>(kRestreamQueuedFrames), nullptr);
  gst_util_set_object_arg(G_OBJECT(source), "leaky-type", "upstream");
  GstAppSrc* released = nullptr;
  {
    std::lock_guard lock(shared->mutex);
    if (shared->closed) {
      released = GST_APP_SRC(source);
    } else {
      released = shared->appsrc;
      shared->appsrc = GST_APP_SRC(source);
      shared->media = media;
      ++shared->generation;
    }
  }
  unref_appsrc(released);
  g_signal_connect_data(media, "unprepared", G_CALLBACK(on_unprepared), hold(shared), release_hold,
                        GConnectFlags{});
}

void on_client_connected(GstRTSPServer* /*server*/, GstRTSPClient* /*client*/, gpointer data) {
  held(data)->clients.fetch_add(1);
}

GstRTSPFilterResult remove_client(GstRTSPServer* /*server*/, GstRTSPClient* /*client*/,
                                  gpointer /*data*/) {
  return GST_RTSP_FILTER_REMOVE;
}

// The media's launch line. x264 needs even sizes for 4:2:0, which every RTSP player decodes; an
// odd size is scaled down by a pixel rather than sent as 4:4:4, which many players cannot show.
std::string launch_line(const RtspRestreamOptions& options) {
  const int width = options.width & ~1;
  const int height = options.height & ~1;
  const bool odd = width != options.width || height != options.height;
  const double fps = static_cast<double>(options.fps_num) / options.fps_den;
  const auto key_interval = static_cast<unsigned>(std::max(1.0, std::round(fps)));
  // tune=zerolatency: no lookahead and no B-frames, so a frame leaves the encoder as it enters.
  // config-interval=-1 repeats SPS/PPS with every key frame for clients that join late.
  return fmt::format(
      "( appsrc name=src ! videoconvert {}! video/x-raw,format=I420,width={},height={} ! "
      "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={} ! "
      "rtph264pay name=pay0 pt=96 config-interval=-1 )",
      odd ? "! videoscale " : "", width, height, key_interval);
}

bool is_ip_address(const std::string& address) {
  GInetAddress* parsed = g_inet_address_new_from_string(address.c_str());
  if (parsed == nullptr) return false;
  g_object_unref(parsed);
  return true;
}

}  // namespace

struct RtspRestream::Impl {
  RtspRestreamOptions options;
  SharedPtr shared = std::make_shared<Shared>();
  std::int64_t period_ns = 0;

  // Timestamps of the current media: its running time when our first frame went in, and that
  // frame's stream time; later frames keep their stream spacing from there.
  std::uint64_t generation = 0;
  std::int64_t base_running_ns = 0;
  std::int64_t first_pts_ns = -1;
  std::int64_t last_pts_ns = -1;

  GMainContext* context = nullptr;
  GMainLoop* loop = nullptr;
  GstRTSPServer* server = nullptr;
  GSource* listener = nullptr;  // the server's listening socket, attached to `context`
  int port = 0;
  std::thread thread;
  bool stopped = false;

  void start();
  void stop();
  GstClockTime timestamp(const Frame& frame, GstAppSrc* appsrc, std::uint64_t media_generation,
                         std::int64_t frames_sent);

  ~Impl() {
    stop();
    if (server != nullptr) g_object_unref(server);
    if (loop != nullptr) g_main_loop_unref(loop);
    if (context != nullptr) g_main_context_unref(context);
  }
};

void RtspRestream::Impl::start() {
  const std::string& address = options.address;
  if (!is_ip_address(address) && address != "localhost") {
    throw ConfigError(fmt::format(
        "restream address '{}' is not an IP address; use 127.0.0.1 (this machine only), 0.0.0.0 "
        "(every interface) or one of this machine's addresses with --restream-address",
        address));
  }
  if (options.port < 0 || options.port > 65535) {
    throw ConfigError(fmt::format(
        "restream port {} is out of range; use 1 to 65535 with --restream", options.port));
  }
  shared->caps =
      gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT,
                          options.width, "height", G_TYPE_INT, options.height, "framerate",
                          GST_TYPE_FRACTION, options.fps_num, options.fps_den, nullptr);

  context = g_main_context_new();
  loop = g_main_loop_new(context, FALSE);
  server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, address.c_str());
  gst_rtsp_server_set_service(server, std::to_string(options.port).c_str());
  g_signal_connect_data(server, "client-connected", G_CALLBACK(on_client_connected), hold(shared),
                        release_hold, GConnectFlags{});

  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, launch_line(options).c_str());
  gst_rtsp_media_factory_set_shared(factory, TRUE);
  g_signal_connect_data(factory, "media-configure", G_CALLBACK(on_media_configure), hold(shared),
                        release_hold, GConnectFlags{});
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
  gst_rtsp_mount_points_add_factory(mounts, kRestreamPath, factory);  // takes the factory
  g_object_unref(mounts);

  // Creating the source binds and listens at once, so a busy port or a foreign address is found
  // here, before the run starts, with the system's reason.
  GError* error = nullptr;
  listener = gst_rtsp_server_create_source(server, nullptr, &error);
  if (listener == nullptr) {
    const bool in_use =
        error != nullptr && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    const std::string reason = error != nullptr ? error->message : "unknown reason";
    g_clear_error(&error);
    if (in_use) {
      throw ConfigError(fmt::format(
          "cannot serve the restream: port {} on {} is already in use; choose another port with "
          "--restream PORT (or stop what is using it)",
          options.port, address));
    }
    throw ConfigError(fmt::format(
        "cannot serve the restream on {} port {} ({}); use an address of this machine with "
        "--restream-address (127.0.0.1: this machine only; 0.0.0.0: every interface)",
        address, options.port, reason));
  }
  port = gst_rtsp_server_get_bound_port(server);
  g_source_attach(listener, context);

  GMainContext* own_context = context;
  GMainLoop* own_loop = loop;
  thread = std::thread([own_context, own_loop] {
    g_main_context_push_thread_default(own_context);
    g_main_loop_run(own_loop);
    g_main_context_pop_thread_default(own_context);
  });
}

void RtspRestream::Impl::stop() {
  if (stopped) return;
  stopped = true;
  {
    std::lock_guard lock(shared->mutex);
    shared->closed = true;
  }
  GstAppSrc* appsrc = shared->take_appsrc(nullptr);
  if (appsrc != nullptr) {
    // Lets the clients see the stream end rather than stall; nothing waits for it.
    gst_app_src_end_of_stream(appsrc);
    gst_object_unref(appsrc);
  }
  if (!thread.joinable()) {
    if (listener != nullptr) {
      g_source_destroy(listener);
      g_source_unref(listener);
      listener = nullptr;
    }
    return;
  }
  // Runs on the server's own thread, so that closing connections and the listening socket cannot
  // race with the server handling a request.
  GSourceFunc shut_down = [](gpointer data) -> gboolean {
    auto* impl = static_cast<Impl*>(data);
    gst_rtsp_server_client_filter(impl->server, remove_client, nullptr);
    g_source_destroy(impl->listener);
    g_main_loop_quit(impl->loop);
    return G_SOURCE_REMOVE;
  };
  g_main_context_invoke(context, shut_down, this);
  thread.join();
  g_source_unref(listener);
  listener = nullptr;
}

GstClockTime RtspRestream::Impl::timestamp(const Frame& frame, GstAppSrc* appsrc,
                                           std::uint64_t media_generation,
                                           std::int64_t frames_sent) {
  std::int64_t pts = frame.pts_ns >= 0 ? frame.pts_ns : frames_sent * period_ns;
  if (media_generation != generation) {
    // A new media's clock started when its first client came; our frames start at its present.
    generation = media_generation;
    base_running_ns = gst::to_ns(gst_element_get_current_running_time(GST_ELEMENT(appsrc)));
    if (base_running_ns < 0) base_running_ns = 0;
    first_pts_ns = pts;
    last_pts_ns = -1;
  }
  pts = base_running_ns + (pts - first_pts_ns);
  // A stream that jumps back (a live reconnect) is kept monotonic, which the encoder requires.
  if (last_pts_ns >= 0 && pts <= last_pts_ns) pts = last_pts_ns + period_ns;
  last_pts_ns = pts;
  return static_cast<GstClockTime>(pts);
}

RtspRestream::RtspRestream(RtspRestreamOptions options) : impl_(std::make_unique<Impl>()) {
  gst::ensure_initialized();
  if (options.width <= 0 || options.height <= 0) {
    throw ConfigError(
        fmt::format("restream: frame size {}x{} is not valid", options.width, options.height));
  }
  if (options.fps_num <= 0 || options.fps_den <= 0) {
    // The stream did not state a rate; frames keep their own timestamps, the rest assumes 25.
    options.fps_num = 25;
    options.fps_den = 1;
  }
  impl_->period_ns = static_cast<std::int64_t>(1e9 * options.fps_den / options.fps_num);
  impl_->options = std::move(options);
  impl_->start();
}

RtspRestream::~RtspRestream() = default;

int RtspRestream::port() const { return impl_->port; }

std::string RtspRestream::url() const {
  const std::string& address = impl_->options.address;
  const bool ipv6 = address.find(':') != std::string::npos;
  return fmt::format("rtsp://{}{}{}:{}{}", ipv6 ? "[" : "", address, ipv6 ? "]" : "", impl_->port,
                     kRestreamPath);
}

std::int64_t RtspRestream::clients() const { return impl_->shared->clients.load(); }

void RtspRestream::process(Frame& frame) {
  if (frame.is_end() || frame.image.empty()) return;
  Impl& impl = *impl_;
  if (frame.image.cols != impl.options.width || frame.image.rows != impl.options.height ||
      frame.image.type() != CV_8UC3) {
    throw RuntimeError(fmt::format(
        "restream {} was opened for {}x{} BGR frames but frame {} is {}x{}; a stream that changes "
        "size cannot be restreamed",
        url(), impl.options.width, impl.options.height, frame.seq, frame.image.cols,
        frame.image.rows));
  }
  GstAppSrc* appsrc = nullptr;
  std::uint64_t media_generation = 0;
  {
    std::lock_guard lock(impl.shared->mutex);
    if (impl.shared->appsrc != nullptr) {
      appsrc = GST_APP_SRC(gst_object_ref(impl.shared->appsrc));
      media_generation = impl.shared->generation;
    }
  }
  if (appsrc == nullptr) {
    ++frames_unwatched_;
    return;
  }
  if (gst_app_src_get_current_level_buffers(appsrc) >= kRestreamQueuedFrames) {
    // The encoder or a client is behind; waiting would hold up the whole pipeline.
    ++frames_dropped_;
    gst_object_unref(appsrc);
    return;
  }

  GstBuffer* buffer = gst::wrap_frame_image(frame);
  GST_BUFFER_PTS(buffer) = impl.timestamp(frame, appsrc, media_generation, frames_sent_);
  GST_BUFFER_DURATION(buffer) =
      static_cast<GstClockTime>(frame.duration_ns > 0 ? frame.duration_ns : impl.period_ns);

  const GstFlowReturn flow = gst_app_src_push_buffer(appsrc, buffer);
  if (flow == GST_FLOW_OK) {
    ++frames_sent_;
  } else {
    // The media is going away (its last client left, or it failed): not the run's problem; the
    // next client gets a new one.
    ++frames_dropped_;
    unref_appsrc(impl.shared->take_appsrc(nullptr, appsrc));
  }
  gst_object_unref(appsrc);
}

void RtspRestream::finish() { impl_->stop(); }

}  // namespace lookout
