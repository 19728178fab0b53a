#include "support/rtsp_server.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/core.h>

namespace lookout::testing {

struct RtspServer::Running {
  GMainContext* context = nullptr;
  GMainLoop* loop = nullptr;
  GstRTSPServer* server = nullptr;
  guint source_id = 0;
  int port = 0;
  std::thread thread;

  ~Running() {
    if (server != nullptr) g_object_unref(server);
    if (loop != nullptr) g_main_loop_unref(loop);
    if (context != nullptr) g_main_context_unref(context);
  }
};

// Valves of every media made so far; each holds a reference, released when the server stops.
struct RtspServer::Stall {
  std::mutex mutex;
  bool stalled = false;
  std::vector<GstElement*> valves;

  void release() {
    std::lock_guard lock(mutex);
    for (GstElement* valve : valves) gst_object_unref(valve);
    valves.clear();
  }

  // "media-configure": runs on the server's thread as each new media is made, before it starts.
  static void on_media_configure(GstRTSPMediaFactory* /*factory*/, GstRTSPMedia* media,
                                 gpointer data) {
    auto* stall = static_cast<Stall*>(data);
    GstElement* element = gst_rtsp_media_get_element(media);
    GstElement* valve = gst_bin_get_by_name(GST_BIN(element), kStallValve);
    gst_object_unref(element);
    if (valve == nullptr) return;
    std::lock_guard lock(stall->mutex);
    g_object_set(valve, "drop", stall->stalled ? TRUE : FALSE, nullptr);
    stall->valves.push_back(valve);
  }
};

namespace {

GstRTSPFilterResult remove_client(GstRTSPServer* /*server*/, GstRTSPClient* /*client*/,
                                  gpointer /*data*/) {
  return GST_RTSP_FILTER_REMOVE;
}

void add_authentication(GstRTSPServer* server, GstRTSPMediaFactory* factory,
                        const std::string& user, const std::string& password) {
  GstRTSPAuth* auth = gst_rtsp_auth_new();
  GstRTSPToken* token =
      gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", nullptr);
  gchar* basic = gst_rtsp_auth_make_basic(user.c_str(), password.c_str());
  gst_rtsp_auth_add_basic(auth, basic, token);
  g_free(basic);
  gst_rtsp_token_unref(token);
  gst_rtsp_server_set_auth(server, auth);
  g_object_unref(auth);
  gst_rtsp_media_factory_add_role(factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                  G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                  G_TYPE_BOOLEAN, TRUE, nullptr);
}

}  // namespace

RtspServer::RtspServer(Settings settings)
    : settings_(std::move(settings)), stall_(std::make_unique<Stall>()) {}

RtspServer::~RtspServer() { stop(); }

void RtspServer::set_stalled(bool stalled) {
  std::lock_guard lock(stall_->mutex);
  stall_->stalled = stalled;
  for (GstElement* valve : stall_->valves) {
    g_object_set(valve, "drop", stalled ? TRUE : FALSE, nullptr);
  }
}

void RtspServer::start() {
  if (running_) return;
  gst_init(nullptr, nullptr);
  auto running = std::make_unique<Running>();
  running->context = g_main_context_new();
  running->loop = g_main_loop_new(running->context, FALSE);
  running->server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(running->server, "127.0.0.1");
  // A restarted server keeps its address, as a camera does; gst-rtsp-server binds with
  // SO_REUSEADDR, so the port is free again at once although closed connections linger.
  const int port = settings_.port != 0 ? settings_.port : last_port_;
  const std::string service = std::to_string(port);
  gst_rtsp_server_set_service(running->server, service.c_str());

  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, settings_.launch.c_str());
  gst_rtsp_media_factory_set_shared(factory, settings_.shared ? TRUE : FALSE);
  g_signal_connect(factory, "media-configure", G_CALLBACK(Stall::on_media_configure),
                   stall_.get());
  if (!settings_.user.empty()) {
    add_authentication(running->server, factory, settings_.user, settings_.password);
  }
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(running->server);
  gst_rtsp_mount_points_add_factory(mounts, "/test", factory);  // takes the factory
  g_object_unref(mounts);

  // Attaching binds the socket at once, so the port is known before the loop runs.
  running->source_id = gst_rtsp_server_attach(running->server, running->context);
  if (running->source_id == 0) {
    throw std::runtime_error(
        fmt::format("RtspServer: cannot listen on 127.0.0.1:{}", port));
  }
  running->port = gst_rtsp_server_get_bound_port(running->server);
  last_port_ = running->port;
  Running* raw = running.get();
  running->thread = std::thread([raw] {
    g_main_context_push_thread_default(raw->context);
    g_main_loop_run(raw->loop);
    g_main_context_pop_thread_default(raw->context);
  });
  running_ = std::move(running);
}

void RtspServer::stop() {
  if (!running_) return;
  // Runs on the server's own thread, so that closing connections and removing the listening
  // socket cannot race with the server handling a request.
  GSourceFunc shut_down = [](gpointer data) -> gboolean {
    auto* running = static_cast<Running*>(data);
    gst_rtsp_server_client_filter(running->server, remove_client, nullptr);
    if (GSource* source = g_main_context_find_source_by_id(running->context, running->source_id)) {
      g_source_destroy(source);
    }
    g_main_loop_quit(running->loop);
    return G_SOURCE_REMOVE;
  };
  g_main_context_invoke(running_->context, shut_down, running_.get());
  running_->thread.join();
  running_.reset();
  stall_->release();
}

int RtspServer::port() const { return running_ ? running_->port : 0; }

std::string RtspServer::url() const { return fmt::format("rtsp://127.0.0.1:{}/test", port()); }

std::string RtspServer::url_with(const std::string& user, const std::string& password) const {
  return fmt::format("rtsp://{}:{}@127.0.0.1:{}/test", user, password, port());
}

}  // namespace lookout::testing
