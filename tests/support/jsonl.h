#pragma once
// Reads a JSON Lines file (lookout's metadata) into one json value per line.

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lookout::testing {

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace lookout::testing
