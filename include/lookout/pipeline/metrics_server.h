#pragma once
// MetricsServer: a small HTTP server (cpp-httplib) that lets other programs watch a run:
//
//   GET /metrics        Prometheus text format (see metrics.h for every name)
//   GET /healthz        200 "ok: ..." while frames flow; 503 with the reason otherwise (starting,
//                       connecting, reconnecting, stalled, failed, finished); see assess_health()
//   GET /snapshot.jpg   the latest annotated frame as JPEG; 503 before the first frame
//   GET /               a short index of the above
//
// It only reads: a RunMonitor's snapshot and a LatestFrame, both of which it shares, so it can
// outlive the pipeline. The constructor binds the address and port, so a port in use or an address
// that is not this machine's is a ConfigError (exit code 2) before the run starts; then it serves
// on threads of its own (two) until destroyed. Requests never block the pipeline: they copy a
// snapshot under the monitor's mutex, and JPEG encoding happens on the server's thread.
// Thread safety: construct and destroy from one thread; url() and port() from any. The destructor
// stops the server and joins its threads (waiting for requests in progress).

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "lookout/output/frame_snapshot.h"
#include "lookout/pipeline/metrics.h"
#include "lookout/pipeline/run_monitor.h"

namespace httplib {
class Server;
}

namespace lookout {

struct MetricsServerOptions {
  std::string address = "127.0.0.1";  // "0.0.0.0" for every interface
  int port = 0;                        // 0: any free port (see port())
  std::chrono::duration<double> stale_after = kDefaultStaleAfter;  // for /healthz
  int jpeg_quality = 85;
};

class MetricsServer {
 public:
  // `latest` may be null: /snapshot.jpg then answers 404.
  MetricsServer(MetricsServerOptions options, std::shared_ptr<const RunMonitor> monitor,
                std::shared_ptr<const LatestFrame> latest);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  int port() const { return port_; }
  // http://ADDRESS:PORT (no trailing slash)
  std::string url() const;

 private:
  MetricsServerOptions options_;
  std::shared_ptr<const RunMonitor> monitor_;
  std::shared_ptr<const LatestFrame> latest_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace lookout
