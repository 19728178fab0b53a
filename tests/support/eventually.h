#pragma once
// Waiting in tests for something another thread or process makes true (a server up, frames
// written, a state reached), without a fixed sleep: polls `condition` every `every` until it holds
// (returns true) or `limit` has passed (false, for the test to report). Blocks the caller.

#include <chrono>
#include <functional>
#include <thread>

namespace lookout::testing {

inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::steady_clock::duration limit,
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace lookout::testing
