#include "support/rtsp_server.h"

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <stdexcept>
#include <thread>

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

RtspServer::RtspServer(Settings settings) : settings_(std::move(settings)) {}

RtspServer::~RtspServer() { stop(); }

void RtspServer::start() {
  if (running_) return;
  gst_init(nullptr, nullptr);
  auto running = std::make_unique<Running>();
  running->context = g_main_context_new();
  running->loop = g_main_loop_new(running->context, FALSE);
  running->server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(running->server, "127.0.0.1");
  const std::string service = std::to_string(settings_.port);
  gst_rtsp_server_set_service(running->server, service.c_str());

  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, settings_.launch.c_str());
  gst_rtsp_media_factory_set_shared(factory, settings_.shared ? TRUE : FALSE);
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
        fmt::format("RtspServer: cannot listen on 127.0.0.1:{}", settings_.port));
  }
  running->port = gst_rtsp_server_get_bound_port(running->server);
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
}

int RtspServer::port() const { return running_ ? running_->port : 0; }

std::string RtspServer::url() const { return fmt::format("rtsp://127.0.0.1:{}/test", port()); }

std::string RtspServer::url_with(const std::string& user, const std::string& password) const {
  return fmt::format("rtsp://{}:{}@127.0.0.1:{}/test", user, password, port());
}

}  // namespace lookout::testing
