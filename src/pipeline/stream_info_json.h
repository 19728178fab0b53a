#pragma once
// An input's description as JSON, shared by the run summary and the benchmark report so both
// describe an input the same way: {"uri", "width", "height", "fps", "live", "frame_count"}.

#include <nlohmann/json.hpp>

#include "lookout/core/source.h"

namespace lookout {

nlohmann::ordered_json stream_info_json(const StreamInfo& input);

}  // namespace lookout
