# LOOKOUT_FUZZ: every lookout target is compiled with libFuzzer's coverage instrumentation
# (fuzzer-no-link) and with AddressSanitizer and UndefinedBehaviorSanitizer, so that the fuzz
# targets in tests/fuzz see inside the code they call and a fault anywhere in it stops the run.
# Only the fuzz executables link libFuzzer itself (-fsanitize=fuzzer, in tests/fuzz). The system
# libraries (yaml-cpp, OpenCV, fmt...) stay as Debian built them (g++, libstdc++), which clang links
# against as it does by default on Debian.
if(NOT LOOKOUT_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LOOKOUT_FUZZ needs clang (libFuzzer is part of clang), not "
                      "${CMAKE_CXX_COMPILER_ID}; configure with the 'fuzz' preset "
                      "(cmake --preset fuzz), which chooses clang++")
endif()
if(NOT LOOKOUT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LOOKOUT_FUZZ brings its own sanitizers (address and undefined); leave "
                      "LOOKOUT_SANITIZE empty")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                    -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
