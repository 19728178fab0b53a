#include "bench_command.h"

#include <cstdio>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "lookout/core/error.h"
#include "lookout/pipeline/bench.h"

namespace lookout::cli {

CLI::App* add_bench_command(CLI::App& app, BenchFlags& flags, const std::string& detector_types) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Measure decode, detector and pipeline throughput on a file, and the framework's overhead");
  bench->add_option("input", flags.input, "Video file (a path or URI)")->required();
  bench->add_option("--detector,-d", flags.detector, "Detector: " + detector_types)->required();
  bench->add_option("--opt", flags.opts, "Detector option KEY=VALUE (repeatable), as in pipeline files");
  bench->add_option("--frames", flags.frames, "Use the first N frames (default: all)")
      ->check(CLI::Range(1LL, 1LL << 40));
  bench->add_option("--workers,-w", flags.workers, "Pipeline runs with 1 .. N workers (default: one per core)")
      ->check(CLI::Range(1, 256));
  bench->add_option("--passes", flags.passes,
                    "Measure detector only and the pipeline with the most workers N times each, in turn, and keep "
                    "the fastest of each (default 1)")
      ->check(CLI::Range(1, 100));
  bench->add_flag("--encode", flags.encode, "Pipelines also annotate and encode an mp4 (default: JSON Lines only)");
  bench->add_flag("--json", flags.json, "Print the results as one JSON document instead of a table");
  add_logging_options(*bench, flags.logging);
  return bench;
}

int bench_command(const BenchFlags& flags, const std::atomic<int>& stop) {
  apply_logging(flags.logging);
  BenchSpec spec;
  spec.input = flags.input;
  spec.detector = flags.detector;
  spec.frames = flags.frames;
  spec.max_workers = static_cast<std::size_t>(flags.workers);
  spec.encode = flags.encode;
  spec.passes = flags.passes;
  for (const auto& opt : flags.opts) {
    const auto equals = opt.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw ConfigError(fmt::format("--opt '{}' is not KEY=VALUE; e.g. --opt scale=1.1", opt));
    }
    spec.options.emplace_back(opt.substr(0, equals), opt.substr(equals + 1));
  }
  const BenchResult result =
      run_bench(spec, stop, [](const std::string& what) { spdlog::info("bench: measuring {}", what); });
  const std::string text = flags.json ? bench_json(result) + "\n" : format_bench_table(result);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace lookout::cli
