#include "support/text_match.h"

#include <regex>

namespace lookout::testing {

std::optional<std::vector<std::string>> regex_search(const std::string& text,
                                                     const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return std::nullopt;
  std::vector<std::string> groups;
  for (const auto& group : match) groups.push_back(group.matched ? group.str() : std::string());
  return groups;
}

bool regex_full_match(const std::string& text, const std::string& pattern) {
  return std::regex_match(text, std::regex(pattern));
}

}  // namespace lookout::testing
