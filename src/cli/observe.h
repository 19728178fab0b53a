#pragma once
// The command's observability flags and the RunObserver they make: logging (--quiet,
// --log-level), progress on stderr (--stats-interval), and the metrics server (--http,
// --http-address) with its snapshot stage.
//
// Thread safety: RunObservability's RunObserver calls come from the runner's thread; its server
// answers on threads of its own and shares only the monitor and the latest frame with the run.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lookout/output/frame_snapshot.h"
#include "lookout/pipeline/metrics_server.h"
#include "lookout/pipeline/progress.h"
#include "lookout/pipeline/run_monitor.h"
#include "lookout/pipeline/run_observer.h"

namespace lookout::cli {

struct LoggingFlags {
  bool quiet = false;     // errors only, no progress; the summary still goes to stdout
  std::string log_level;  // empty: info
};

struct ObserveFlags {
  LoggingFlags logging;
  int http_port = 0;         // 0: no server
  std::string http_address;  // empty: 127.0.0.1
  double stats_interval = 10.0;
};

// --quiet and --log-level, on any subcommand.
void add_logging_options(CLI::App& command, LoggingFlags& flags);
// The logging options, --stats-interval, --http and --http-address.
void add_observe_options(CLI::App& command, ObserveFlags& flags);
// Sets the log level the flags ask for (init_logging() must have run).
void apply_logging(const LoggingFlags& flags);

class RunObservability : public RunObserver {
 public:
  // Binds the metrics server's port when --http asks for one: a port in use is a ConfigError.
  RunObservability(const ObserveFlags& flags, std::int64_t max_frames);
  ~RunObservability() override;

  std::vector<std::unique_ptr<SerialStage>> annotated_stages(const StreamInfo& input) override;
  void started(const Pipeline& pipeline) override;
  void tick(const Pipeline& pipeline) override;
  void finished(const Pipeline& pipeline, const RunReport& report) override;

 private:
  void log_source_changes(const SourceStatus& status);

  std::shared_ptr<RunMonitor> monitor_;
  std::shared_ptr<LatestFrame> latest_;
  std::unique_ptr<MetricsServer> server_;
  std::unique_ptr<ProgressReporter> progress_;  // null with --quiet
  SourceStatus::State last_state_ = SourceStatus::State::kConnecting;
  std::int64_t last_reconnects_ = 0;
};

}  // namespace lookout::cli
