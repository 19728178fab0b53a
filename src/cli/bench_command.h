#pragma once
// `lookout bench INPUT --detector NAME [--opt K=V]... [--frames N] [--workers N] [--encode] [--passes N] [--json]`:
// the throughput benchmark (see lookout/pipeline/bench.h for what it measures). The table, or
// with --json the JSON document, goes to stdout; what is being measured goes to stderr as info
// messages.

#include <atomic>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "observe.h"

namespace lookout::cli {

struct BenchFlags {
  std::string input;
  std::string detector;
  std::vector<std::string> opts;
  long long frames = -1;
  int workers = 0;
  bool encode = false;
  int passes = 1;
  bool json = false;
  LoggingFlags logging;
};

CLI::App* add_bench_command(CLI::App& app, BenchFlags& flags, const std::string& detector_types);

// Returns the exit code; throws ConfigError and RuntimeError as `lookout run` does.
int bench_command(const BenchFlags& flags, const std::atomic<int>& stop);

}  // namespace lookout::cli
