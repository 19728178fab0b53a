#include "lookout/pipeline/pipeline_spec.h"

#include <filesystem>
#include <thread>

namespace lookout {

std::string expand_output_path(const std::string& path, const std::string& input) {
  std::string name = input;
  // For a URI, the stem comes from its last path segment, without any query. Only the path is
  // looked at: the authority may hold credentials, which must not end up in a file name.
  if (const auto scheme_end = name.find("://"); scheme_end != std::string::npos) {
    if (const auto query = name.find_first_of("?#"); query != std::string::npos) name.erase(query);
    const auto path_start = name.find('/', scheme_end + 3);
    name = path_start == std::string::npos ? std::string() : name.substr(path_start);
  } else if (name.rfind("test:", 0) == 0) {
    name = name.size() > 5 ? "test-" + name.substr(5) : "test";
  } else if (name.rfind("gst:", 0) == 0) {
    name = "gst";  // a description has no name of its own
  }
  std::string stem = std::filesystem::path(name).stem().string();
  if (stem.empty()) stem = "stream";
  std::string expanded = path;
  for (auto at = expanded.find("{stem}"); at != std::string::npos; at = expanded.find("{stem}", at + stem.size())) {
    expanded.replace(at, 6, stem);
  }
  return expanded;
}

std::size_t resolve_workers(std::size_t requested) {
  if (requested > 0) return requested;
  return std::max<std::size_t>(1, std::thread::hardware_concurrency());
}

}  // namespace lookout
