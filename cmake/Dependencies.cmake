# Every dependency is a Debian 12 package; tools/setup installs them.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GST REQUIRED IMPORTED_TARGET
  gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 gstreamer-pbutils-1.0)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc objdetect videoio)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# libconcurrentqueue-dev ships headers only, without a CMake package.
find_path(CONCURRENTQUEUE_INCLUDE_DIR concurrentqueue/blockingconcurrentqueue.h REQUIRED)
add_library(lookout_concurrentqueue INTERFACE)
target_include_directories(lookout_concurrentqueue SYSTEM INTERFACE ${CONCURRENTQUEUE_INCLUDE_DIR})

if(LOOKOUT_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # The tests' RTSP server (libgstrtspserver-1.0-dev); lookout itself plays RTSP through rtspsrc.
  pkg_check_modules(GST_RTSP REQUIRED IMPORTED_TARGET gstreamer-rtsp-server-1.0)
endif()
