#include "lookout/pipeline/metrics_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <httplib.h>
#include <opencv2/imgcodecs.hpp>

#include "lookout/core/error.h"

namespace lookout {
namespace {

constexpr const char* kText = "text/plain; charset=utf-8";

// Wraps a handler so that nothing it throws leaves the server's thread: the client gets a 500.
template <typename Handler>
httplib::Server::Handler guarded(Handler handler) {
  return [handler = std::move(handler)](const httplib::Request& request, httplib::Response& response) {
    try {
      handler(request, response);
    } catch (const std::exception& e) {
      response.status = 500;
      response.set_content(std::string("internal error: ") + e.what() + "\n", kText);
    } catch (...) {
      response.status = 500;
      response.set_content("internal error\n", kText);
    }
  };
}

}  // namespace

MetricsServer::MetricsServer(MetricsServerOptions options, std::shared_ptr<const RunMonitor> monitor,
                             std::shared_ptr<const LatestFrame> latest)
    : options_(std::move(options)), monitor_(std::move(monitor)), latest_(std::move(latest)) {
  server_ = std::make_unique<httplib::Server>();
  // Two threads are plenty for a scraper and a person; the default pool would take one per core.
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  // cpp-httplib sets SO_REUSEPORT by default, which would let a second lookout share the port
  // silently; SO_REUSEADDR alone still allows a quick restart on the same port.
  server_->set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  const std::shared_ptr<const RunMonitor> watched = monitor_;
  const std::shared_ptr<const LatestFrame> frames = latest_;
  const auto stale_after = options_.stale_after;
  const int quality = options_.jpeg_quality;

  server_->Get("/metrics", guarded([watched](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content(format_prometheus(watched->snapshot(), std::chrono::system_clock::now()),
                         "text/plain; version=0.0.4; charset=utf-8");
  }));
  server_->Get("/healthz",
               guarded([watched, stale_after](const httplib::Request&, httplib::Response& response) {
                 const Health health =
                     assess_health(watched->snapshot(), std::chrono::system_clock::now(), stale_after);
                 response.status = health.ok ? 200 : 503;
                 response.set_header("Cache-Control", "no-store");
                 response.set_content(health.reason + "\n", kText);
               }));
  server_->Get("/snapshot.jpg",
               guarded([frames, quality](const httplib::Request&, httplib::Response& response) {
                 response.set_header("Cache-Control", "no-store");
                 if (!frames) {
                   response.status = 404;
                   response.set_content("this run keeps no snapshot\n", kText);
                   return;
                 }
                 const auto picture = frames->get();
                 if (!picture) {
                   response.status = 503;
                   response.set_content("no frame yet\n", kText);
                   return;
                 }
                 std::vector<unsigned char> jpeg;
                 if (!cv::imencode(".jpg", picture->image, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality})) {
                   throw std::runtime_error("the frame could not be encoded as JPEG");
                 }
                 response.set_header("X-Lookout-Seq", std::to_string(picture->seq));
                 response.set_content(reinterpret_cast<const char*>(jpeg.data()), jpeg.size(), "image/jpeg");
               }));
  server_->Get("/", guarded([](const httplib::Request&, httplib::Response& response) {
    response.set_content(
        "lookout\n"
        "  /metrics       Prometheus metrics\n"
        "  /healthz       200 while frames flow, 503 and the reason otherwise\n"
        "  /snapshot.jpg  the latest annotated frame\n",
        kText);
  }));

  errno = 0;
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.address);
  } else if (server_->bind_to_port(options_.address, options_.port)) {
    port_ = options_.port;
  } else {
    port_ = -1;
  }
  if (port_ < 0) {
    const int error = errno;
    throw ConfigError(fmt::format(
        "--http: cannot serve on {}:{}{}{}; choose a free port with --http, or with --http-address "
        "an address of this machine (127.0.0.1 for this machine only, 0.0.0.0 for every interface)",
        options_.address, options_.port, error != 0 ? ": " : " (the port is in use or the address is not this machine's)",
        error != 0 ? std::strerror(error) : ""));
  }
  thread_ = std::thread([server = server_.get()] { server->listen_after_bind(); });
  // stop() before the loop has started would be lost, so the constructor returns only once the
  // server runs (it does at once; the bound is against a loop that failed to start).
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string MetricsServer::url() const { return fmt::format("http://{}:{}", options_.address, port_); }

}  // namespace lookout
