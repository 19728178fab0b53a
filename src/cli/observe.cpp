#include "observe.h"

#include <spdlog/spdlog.h>

#include "lookout/core/error.h"
#include "lookout/pipeline/logging.h"

namespace lookout::cli {

void add_logging_options(CLI::App& command, LoggingFlags& flags) {
  CLI::Option* quiet =
      command.add_flag("--quiet,-q", flags.quiet, "Print only errors (and the summary or results on stdout)");
  command.add_option("--log-level", flags.log_level, "Messages on stderr: error|warn|info|debug (default info)")
      ->check(CLI::IsMember({"error", "warn", "warning", "info", "debug"}))
      ->excludes(quiet);
}

void add_observe_options(CLI::App& command, ObserveFlags& flags) {
  add_logging_options(command, flags.logging);
  command
      .add_option("--stats-interval", flags.stats_interval,
                  "Seconds between progress lines (a bar on a terminal for files); 0: none (default 10)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 86400.0));
  command.add_option("--http", flags.http_port, "Serve /metrics, /healthz and /snapshot.jpg on PORT")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  command
      .add_option("--http-address", flags.http_address,
                  "Address the metrics server listens on (default 127.0.0.1; 0.0.0.0: every interface)")
      ->type_name("ADDR");
}

void apply_logging(const LoggingFlags& flags) {
  if (flags.quiet) {
    set_log_level(LogLevel::kError);
  } else if (!flags.log_level.empty()) {
    set_log_level(parse_log_level(flags.log_level).value_or(LogLevel::kInfo));
  }
}

RunObservability::RunObservability(const ObserveFlags& flags, std::int64_t max_frames)
    : monitor_(std::make_shared<RunMonitor>()) {
  if (!flags.http_address.empty() && flags.http_port == 0) {
    throw ConfigError(fmt::format("--http-address {} needs a port to serve on: add --http PORT (e.g. 9100)",
                                  flags.http_address));
  }
  if (flags.http_port > 0) {
    latest_ = std::make_shared<LatestFrame>();
    MetricsServerOptions options;
    options.port = flags.http_port;
    if (!flags.http_address.empty()) options.address = flags.http_address;
    server_ = std::make_unique<MetricsServer>(options, monitor_, latest_);
    spdlog::info("serving {}/metrics, /healthz and /snapshot.jpg", server_->url());
  }
  if (!flags.logging.quiet) {
    ProgressOptions options;
    options.interval = std::chrono::duration<double>(flags.stats_interval);
    options.max_frames = max_frames;
    options.terminal = stderr_is_terminal();
    progress_ = std::make_unique<ProgressReporter>(options);
  }
}

RunObservability::~RunObservability() = default;

std::vector<std::unique_ptr<SerialStage>> RunObservability::annotated_stages(const StreamInfo&) {
  std::vector<std::unique_ptr<SerialStage>> stages;
  if (latest_) stages.push_back(std::make_unique<SnapshotStage>(latest_));
  return stages;
}

void RunObservability::started(const Pipeline& pipeline) {
  monitor_->start(pipeline.source().info());
  const RunReport report = pipeline.stats();
  std::string queues;
  for (const auto& queue : report.queues) {
    queues += fmt::format("{}{} {}", queues.empty() ? "" : ", ", queue.name, queue.capacity);
  }
  spdlog::debug("pipeline started: at most {} frames in flight; queue bounds: {}", report.max_in_flight, queues);
  tick(pipeline);
}

void RunObservability::tick(const Pipeline& pipeline) {
  const SourceStatus status = pipeline.source().status();
  monitor_->record(pipeline.stats(), status);
  log_source_changes(status);
  if (progress_) progress_->update(monitor_->snapshot());
}

void RunObservability::finished(const Pipeline& pipeline, const RunReport& report) {
  const SourceStatus status = pipeline.source().status();
  monitor_->finish(report, status);
  log_source_changes(status);
  if (progress_) progress_->finish();
}

void RunObservability::log_source_changes(const SourceStatus& status) {
  using State = SourceStatus::State;
  if (status.state == State::kReconnecting && last_state_ != State::kReconnecting) {
    spdlog::warn("the input was lost; reconnecting (see --stall-timeout, --reconnect-attempts)");
  }
  if (status.reconnects > last_reconnects_) {
    spdlog::info("the input is back ({} reconnect{} so far, {} attempt{})", status.reconnects,
                 status.reconnects == 1 ? "" : "s", status.reconnect_attempts,
                 status.reconnect_attempts == 1 ? "" : "s");
  }
  if (status.state != last_state_) {
    spdlog::debug("input state: {} -> {}", to_string(last_state_), to_string(status.state));
  }
  last_state_ = status.state;
  last_reconnects_ = status.reconnects;
}

}  // namespace lookout::cli
