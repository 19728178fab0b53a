# Warnings as an INTERFACE target that every lookout target links privately.
add_library(lookout_warnings INTERFACE)
target_compile_options(lookout_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                  -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion)
