#pragma once
// The two kinds of error a user sees, and the exit codes the command maps them to.
// Messages name the input (file, URI, key with file:line:column) and say what would fix it.

#include <stdexcept>

namespace lookout {

// Usage and configuration: a bad flag, pipeline file, option, path or model. Found before any
// pipeline thread starts. Exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Something failed while running: the input could not be decoded, an output could not be written.
// Exit code 1.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitConfigError = 2;

}  // namespace lookout
