#pragma once
// The message of the ConfigError an action throws, or "(no error)", for asserting on messages.

#include <functional>
#include <string>

#include "lookout/core/error.h"

namespace lookout::testing {

inline std::string config_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace lookout::testing
