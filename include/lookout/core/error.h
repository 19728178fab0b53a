#pragma once
// The two kinds of error a user sees, and the exit codes the command maps them to.
// Messages name the input (file, URI, key with file:line:column) and say what would fix it.
// A message may quote what the user wrote, which can hold any byte: a NUL byte in it is kept as the
// two characters \0, since what() is a C string and would otherwise end there, hiding the rest.

#include <stdexcept>
#include <string>

namespace lookout {

namespace detail {
inline std::string without_nul(std::string message) {
  for (std::size_t at = message.find('\0'); at != std::string::npos; at = message.find('\0', at)) {
    message.replace(at, 1, "\\0");
  }
  return message;
}
}  // namespace detail

// Usage and configuration: a bad flag, pipeline file, option, path or model. Found before any
// pipeline thread starts. Exit code 2.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message)
      : std::runtime_error(detail::without_nul(message)) {}
  explicit ConfigError(const char* message) : std::runtime_error(message) {}
};

// Something failed while running: the input could not be decoded, an output could not be written.
// Exit code 1.
class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& message)
      : std::runtime_error(detail::without_nul(message)) {}
  explicit RuntimeError(const char* message) : std::runtime_error(message) {}
};

inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitConfigError = 2;

}  // namespace lookout
