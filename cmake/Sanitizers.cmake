# Sanitizers apply to the whole build (library, tests and tools alike), so one cache variable
# chooses them and they are added globally here rather than per target.
if(LOOKOUT_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(LOOKOUT_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  # For the few places that must act differently under TSan (see src/capture/gst_source.cpp).
  add_compile_definitions(LOOKOUT_TSAN=1)
  add_link_options(-fsanitize=thread)
elseif(NOT LOOKOUT_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LOOKOUT_SANITIZE must be empty, 'address' or 'thread', not '${LOOKOUT_SANITIZE}'")
endif()
