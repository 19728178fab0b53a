#include "lookout/pipeline/summary_json.h"

#include <nlohmann/json.hpp>

#include "stream_info_json.h"

namespace lookout {

std::string summary_json(const RunResult& result) {
  using Json = nlohmann::ordered_json;
  const RunReport& report = result.report;
  Json json;
  json["input"] = stream_info_json(result.input);
  json["workers"] = result.workers;
  json["drop_policy"] = to_string(result.drop_policy);
  json["wall_seconds"] = report.wall_seconds;
  json["fps"] = report.fps();
  json["frames"] = {{"in", report.frames_in},
                    {"processed", report.processed},
                    {"dropped", report.dropped},
                    {"failed", report.failed},
                    {"balanced", report.balanced()},
                    {"dropped_by_cause",
                     {{"pipeline_full", report.dropped_pipeline_full},
                      {"too_old", report.dropped_too_old},
                      {"stopping", report.dropped_stopping}}}};
  json["bounds"] = {{"max_in_flight", report.max_in_flight},
                    {"peak_in_flight", report.peak_in_flight},
                    {"reorder_capacity", report.reorder_capacity},
                    {"peak_reorder", report.peak_reorder}};
  Json stages = Json::array();
  for (const auto& stage : report.stages) {
    stages.push_back({{"name", stage.name},
                      {"frames", stage.latency.count()},
                      {"p50_ms", stage.latency.percentile_ms(0.50)},
                      {"p90_ms", stage.latency.percentile_ms(0.90)},
                      {"p99_ms", stage.latency.percentile_ms(0.99)}});
  }
  json["stages"] = std::move(stages);
  Json detectors = Json::array();
  for (const auto& detector : result.detectors) {
    detectors.push_back({{"name", detector.name},
                         {"frames_run", detector.frames_run},
                         {"frames_skipped", detector.frames_skipped},
                         {"pixels", detector.pixels}});
  }
  json["detectors"] = std::move(detectors);
  json["outputs"] = result.outputs;
  json["stopped_early"] = report.stopped_early;
  json["error"] = report.fatal_error ? Json(*report.fatal_error) : Json(nullptr);
  return json.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace lookout
