#include "lookout/core/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "lookout/core/error.h"

namespace lookout {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<double> parse_double(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

std::optional<std::string> nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(lower(word), lower(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

void Options::set(const std::string& key, const std::string& value, const std::string& where) {
  values_[key] = Value{value, where};
}

Options Options::split(const std::vector<std::string>& keys) {
  Options part(context_);
  for (const auto& key : keys) {
    const auto it = values_.find(key);
    if (it == values_.end()) continue;
    part.values_.insert(*it);
    values_.erase(it);
  }
  return part;
}

const Options::Value* Options::lookup(const std::string& key) {
  used_.insert(key);
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

void Options::reject(const std::string& key, const Value& value, const std::string& expected) const {
  std::string message = value.where.empty() ? std::string() : value.where + ": ";
  if (!context_.empty()) message += context_ + ": ";
  message += "option '" + key + "' has value '" + value.text + "'; expected " + expected;
  throw ConfigError(message);
}

void Options::reject(const std::string& key, const std::string& expected) const {
  const auto it = values_.find(key);
  reject(key, it != values_.end() ? it->second : Value{"", ""}, expected);
}

std::string Options::get_string(const std::string& key, const std::string& fallback) {
  const Value* value = lookup(key);
  return value ? value->text : fallback;
}

double Options::get_double(const std::string& key, double fallback, double min, double max) {
  const Value* value = lookup(key);
  if (!value) return fallback;
  const auto number = parse_double(value->text);
  const std::string range = "a number from " + format_number(min) + " to " + format_number(max);
  if (!number || *number < min || *number > max) reject(key, *value, range);
  return *number;
}

int Options::get_int(const std::string& key, int fallback, int min, int max) {
  const Value* value = lookup(key);
  if (!value) return fallback;
  const auto number = parse_double(value->text);
  const std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (!number || *number != std::floor(*number) || *number < min || *number > max) {
    reject(key, *value, range);
  }
  return static_cast<int>(*number);
}

bool Options::get_bool(const std::string& key, bool fallback) {
  const Value* value = lookup(key);
  if (!value) return fallback;
  const std::string text = lower(value->text);
  if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
  if (text == "false" || text == "no" || text == "off" || text == "0") return false;
  reject(key, *value, "true or false");
}

cv::Size Options::get_size(const std::string& key, cv::Size fallback, int min, int max) {
  const Value* value = lookup(key);
  if (!value) return fallback;
  const std::string expected = "a size such as 8, 8x8 or [8, 8], each from " + std::to_string(min) +
                               " to " + std::to_string(max);
  std::string text = lower(value->text);
  std::replace(text.begin(), text.end(), 'x', ',');
  const auto comma = text.find(',');
  const std::string first = text.substr(0, comma);
  const std::string second = comma == std::string::npos ? first : text.substr(comma + 1);
  auto trim = [](std::string s) {
    s.erase(0, s.find_first_not_of(' '));
    s.erase(s.find_last_not_of(' ') + 1);
    return s;
  };
  const auto w = parse_double(trim(first));
  const auto h = parse_double(trim(second));
  auto valid = [&](const std::optional<double>& n) {
    return n && *n == std::floor(*n) && *n >= min && *n <= max;
  };
  if (!valid(w) || !valid(h)) reject(key, *value, expected);
  return {static_cast<int>(*w), static_cast<int>(*h)};
}

void Options::check_all_used(const std::vector<std::string>& known_keys) const {
  std::string message;
  for (const auto& [key, value] : values_) {
    if (used_.count(key)) continue;
    if (!message.empty()) message += "\n";
    if (!value.where.empty()) message += value.where + ": ";
    if (!context_.empty()) message += context_ + ": ";
    message += "unknown option '" + key + "'";
    if (const auto suggestion = nearest(key, known_keys)) {
      message += "; did you mean '" + *suggestion + "'?";
    } else if (known_keys.empty()) {
      message += "; " + (context_.empty() ? std::string("this") : context_) + " takes no options";
    } else {
      std::string list;
      for (const auto& known : known_keys) list += (list.empty() ? "" : ", ") + known;
      message += "; known options: " + list;
    }
  }
  if (!message.empty()) throw ConfigError(message);
}

}  // namespace lookout
