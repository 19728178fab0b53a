#include "support/prometheus.h"

#include <cstdlib>
#include <regex>
#include <sstream>

namespace lookout::testing {

PromExposition parse_prometheus(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)$)");
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$))re");
  PromExposition result;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch match;
    if (std::regex_match(line, match, kHelp)) continue;
    if (std::regex_match(line, match, kType)) {
      result.types[match[1]] = match[2];
      continue;
    }
    if (!std::regex_match(line, match, kSample)) {
      result.problems.push_back("line " + std::to_string(number) + " is not a sample: " + line);
      continue;
    }
    PromSample sample;
    sample.name = match[1];
    const std::string labels = match[3];
    const std::string value = match[4];
    std::string rest = labels;
    std::smatch label;
    while (!rest.empty() && std::regex_search(rest, label, kLabel) && label.position(0) == 0) {
      std::string unescaped;
      const std::string raw = label[2];
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
          ++i;
          unescaped += raw[i] == 'n' ? '\n' : raw[i];
        } else {
          unescaped += raw[i];
        }
      }
      sample.labels[label[1]] = unescaped;
      rest = label.suffix();
    }
    if (!rest.empty()) {
      result.problems.push_back("line " + std::to_string(number) + " has bad labels: " + line);
      continue;
    }
    char* end = nullptr;
    sample.value = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0') {
      result.problems.push_back("line " + std::to_string(number) + " has a bad value: " + line);
      continue;
    }
    // A sample belongs to a family typed before it: its own name, or a summary's _sum/_count.
    std::string family = sample.name;
    for (const char* suffix : {"_sum", "_count", "_bucket"}) {
      const std::string s = suffix;
      if (!result.types.count(family) && family.size() > s.size() &&
          family.compare(family.size() - s.size(), s.size(), s) == 0) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    if (!result.types.count(family)) {
      result.problems.push_back("line " + std::to_string(number) + " has no TYPE before it: " + line);
    }
    result.samples.push_back(std::move(sample));
  }
  return result;
}

}  // namespace lookout::testing
