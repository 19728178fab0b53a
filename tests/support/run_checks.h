#pragma once
// Assertions on how one run of the `lookout` command ended, for the tests of bad input: it neither
// hung nor crashed (no signal, no sanitizer report), it exited with the expected code, and its
// message says what it should. GoogleTest failures in the calling test; nothing is thrown.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/process.h"

namespace lookout::testing {

// No timeout, no signal, and nothing from AddressSanitizer, UndefinedBehaviorSanitizer,
// LeakSanitizer or ThreadSanitizer on stderr.
inline void expect_no_crash(const ProcessResult& result) {
  EXPECT_FALSE(result.timed_out) << "hung:\n" << result.err;
  EXPECT_EQ(result.signal, 0) << "crashed:\n" << result.err;
  EXPECT_EQ(result.err.find("Sanitizer"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("runtime error:"), std::string::npos) << result.err;
}

// The run ended cleanly with exit code `code` and one `lookout: error: ` message holding every
// text in `says` (the input it names, what is wrong, what to do).
inline void expect_error(const ProcessResult& result, int code,
                         const std::vector<std::string>& says) {
  expect_no_crash(result);
  EXPECT_EQ(result.exit_code, code) << result.err;
  EXPECT_NE(result.err.find("lookout: error: "), std::string::npos) << result.err;
  for (const auto& text : says) {
    EXPECT_NE(result.err.find(text), std::string::npos)
        << "the message does not say '" << text << "':\n"
        << result.err;
  }
}

}  // namespace lookout::testing
