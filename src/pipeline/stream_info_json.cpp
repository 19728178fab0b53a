#include "stream_info_json.h"

namespace lookout {

nlohmann::ordered_json stream_info_json(const StreamInfo& input) {
  return {{"uri", input.uri},          {"width", input.width},
          {"height", input.height},    {"fps", input.fps()},
          {"live", input.live},        {"frame_count", input.frame_count}};
}

}  // namespace lookout
