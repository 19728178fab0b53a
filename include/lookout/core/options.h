#pragma once
// Options: the key/value settings of one stage, input or output, as the user wrote them (in a
// pipeline file or as --opt KEY=VALUE), each remembering where it was written so that errors can
// point at it. Typed getters parse and range-check a value and mark the key as used; check_all_used()
// then rejects unknown keys, suggesting the nearest known one. Every failure is a ConfigError whose
// message names the place, the key, the value and what is accepted.
//
// Values are text: scalars as written, lists joined with commas ("8,8"). Sizes accept "8", "8x8"
// or "8,8". Booleans accept true/false, yes/no, on/off, 1/0.
// Thread safety: thread-compatible.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

namespace lookout {

class Options {
 public:
  // `context` names the owner in messages, e.g. "stage 'hog'" or "--detector hog".
  explicit Options(std::string context = {}) : context_(std::move(context)) {}

  // Adds or replaces a value; `where` is e.g. "people.yaml:7:5" or "--opt". Later sets win, which
  // is how command-line flags override a pipeline file.
  void set(const std::string& key, const std::string& value, const std::string& where);

  bool has(const std::string& key) const { return values_.count(key) != 0; }

  // Moves the values of `keys` (those that are set) into a new Options with the same context, for
  // settings that belong to the layer around a component rather than to the component itself.
  Options split(const std::vector<std::string>& keys);
  const std::string& context() const { return context_; }

  std::string get_string(const std::string& key, const std::string& fallback);
  double get_double(const std::string& key, double fallback, double min, double max);
  int get_int(const std::string& key, int fallback, int min, int max);
  bool get_bool(const std::string& key, bool fallback);
  cv::Size get_size(const std::string& key, cv::Size fallback, int min, int max);

  // Throws ConfigError naming every key no getter asked for, with the nearest of `known_keys`.
  void check_all_used(const std::vector<std::string>& known_keys) const;

  // Throws ConfigError for `key` (which must be set) with the place, key, value and `expected`:
  // for checks the typed getters cannot express (exclusive bounds, relations between keys).
  [[noreturn]] void reject(const std::string& key, const std::string& expected) const;

 private:
  struct Value {
    std::string text;
    std::string where;
  };
  const Value* lookup(const std::string& key);
  [[noreturn]] void reject(const std::string& key, const Value& value, const std::string& expected) const;

  std::string context_;
  std::map<std::string, Value> values_;
  std::set<std::string> used_;
};

// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
std::optional<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lookout
