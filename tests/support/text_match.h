#pragma once
// Regular-expression matching for tests, compiled once in the support library: <regex> is slow to
// compile, and each test file that used it directly took several seconds longer to build.
// ECMAScript syntax (std::regex). Thread-compatible; throws std::regex_error on a bad pattern.

#include <optional>
#include <string>
#include <vector>

namespace lookout::testing {

// The groups of the first match of `pattern` in `text` (element 0: the whole match; a group that
// did not take part is empty), or nullopt if nothing matches.
std::optional<std::vector<std::string>> regex_search(const std::string& text,
                                                     const std::string& pattern);

// Whether `pattern` matches the whole of `text`.
bool regex_full_match(const std::string& text, const std::string& pattern);

}  // namespace lookout::testing
