#pragma once
// What the metrics server says, as pure functions of a MonitorSnapshot (no I/O, no clock of their
// own: `now` is passed in), so that they can be tested without a server or a pipeline.
//
// format_prometheus(): Prometheus' text exposition format (version 0.0.4). Every name starts with
// `lookout_`; stage metrics carry `stage="..."` ("detect", "reorder", "annotate", "encode",
// "metadata", ...), source metrics `input="..."` (credentials masked, as in every message).
//
//   lookout_frames_in_total                          counter  frames the source delivered
//   lookout_frames_processed_total                   counter  frames that reached the end ok
//   lookout_frames_dropped_total{cause}              counter  pipeline_full, too_old, stopping, other
//   lookout_frames_failed_total                      counter  frames a stage failed on
//   lookout_frames_in_flight                         gauge    frames between entrance and end now
//   lookout_frames_in_flight_peak / _max             gauge    the most so far / the bound
//   lookout_stage_frames_in_total{stage}             counter  handed to the stage (done or waiting)
//   lookout_stage_frames_out_total{stage}            counter  finished by the stage
//   lookout_stage_queue_depth{stage}                 gauge    waiting in front of the stage now
//   lookout_stage_queue_peak{stage} / _capacity      gauge    the most so far / the bound
//   lookout_stage_service_seconds{stage,quantile}    summary  time the stage took per frame
//   lookout_reorder_wait_seconds{quantile}           summary  time a finished frame waited for
//                                                             earlier ones
//   lookout_end_to_end_seconds{quantile}             summary  capture to the end of the last stage
//   lookout_source_frames_total{input}               counter  frames the source read
//   lookout_source_fps{input}                        gauge    frames per second, last 5 s
//   lookout_source_reconnects_total{input}           counter  losses the stream came back from
//   lookout_source_reconnect_attempts_total{input}   counter  connection attempts after losses
//   lookout_source_last_frame_age_seconds{input}     gauge    since the last frame (absent before
//                                                             the first)
//   lookout_source_state{input,state}                gauge    1 for the current state (connecting,
//                                                             streaming, reconnecting, ended), 0
//                                                             for the others
//   lookout_run_seconds                              gauge    since the pipeline started
//   lookout_run_failed                               gauge    1 once a fatal error stopped the run
//   lookout_run_finished                             gauge    1 once the run is over
//   lookout_info{detectors}                          gauge    always 1
//
// Summaries give quantiles 0.5, 0.9 and 0.99 since the start of the run (exact to within 5%),
// with _sum (seconds) and _count. Before the pipeline starts, only lookout_run_finished and
// lookout_info are written.
//
// assess_health(): what /healthz answers. Healthy while frames flow: the pipeline runs, the
// source is streaming and its last frame is younger than `stale_after`. Unhealthy (with the reason
// as text) before the first frame, while the source connects or reconnects, when frames stopped
// coming, once the run failed, and once it is over.

#include <chrono>
#include <string>

#include "lookout/pipeline/run_monitor.h"

namespace lookout {

std::string format_prometheus(const MonitorSnapshot& snapshot,
                              std::chrono::system_clock::time_point now);

struct Health {
  bool ok = false;
  std::string reason;  // one line: "ok: ..." or what is wrong
};

inline constexpr std::chrono::seconds kDefaultStaleAfter{5};

Health assess_health(const MonitorSnapshot& snapshot, std::chrono::system_clock::time_point now,
                     std::chrono::duration<double> stale_after = kDefaultStaleAfter);

// `value` as a Prometheus label value: backslash, double quote and newline escaped.
std::string escape_label_value(const std::string& value);

}  // namespace lookout
