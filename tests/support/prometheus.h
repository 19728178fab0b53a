#pragma once
// A strict reader of Prometheus' text exposition format, for tests of lookout's /metrics: every
// line must be a `# HELP name text`, a `# TYPE name type` given before the family's first sample,
// or a sample `name{label="value",...} number`. Anything else is reported as a problem, so a test
// fails on malformed output rather than skipping it.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lookout::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromExposition {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> counter, gauge, summary...
  std::vector<std::string> problems;         // one per bad line

  // The value of the one sample named `name` whose labels include `labels`; nullopt if none.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& sample : samples) {
      if (sample.name != name) continue;
      bool match = true;
      for (const auto& [key, wanted] : labels) {
        const auto found = sample.labels.find(key);
        if (found == sample.labels.end() || found->second != wanted) match = false;
      }
      if (match) return sample.value;
    }
    return std::nullopt;
  }
};

// Parses `text`; never throws: a malformed line becomes an entry in `problems`.
PromExposition parse_prometheus(const std::string& text);

}  // namespace lookout::testing
