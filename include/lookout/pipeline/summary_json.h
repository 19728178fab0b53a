#pragma once
// The end-of-run summary as one JSON document, for machines (`lookout run --summary-json FILE`):
//
//   {"input":{"uri":"samples/data/vtest.avi","width":768,"height":576,"fps":10.0,"live":false,
//             "frame_count":795},
//    "workers":2,"drop_policy":"block","wall_seconds":80.1,"fps":9.9,
//    "frames":{"in":795,"processed":795,"dropped":0,"failed":0,"balanced":true,
//              "dropped_by_cause":{"pipeline_full":0,"too_old":0,"stopping":0}},
//    "bounds":{"max_in_flight":8,"peak_in_flight":8,"reorder_capacity":17,"peak_reorder":3},
//    "stages":[{"name":"detect (hog)","frames":795,"p50_ms":181.2,"p90_ms":190.0,"p99_ms":201.5},
//              ...],
//    "detectors":[{"name":"hog","frames_run":795,"frames_skipped":0,"pixels":351682560}],
//    "outputs":["out/vtest.annotated.mp4", ...],"stopped_early":false,"error":null}
//
// Stage latencies are service times, except "reorder" (time waiting for earlier frames) and
// "end-to-end" (capture to the end of the last stage, processed frames only).

#include <string>

#include "lookout/pipeline/runner.h"

namespace lookout {

std::string summary_json(const RunResult& result);

}  // namespace lookout
