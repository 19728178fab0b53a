# Every dependency is a Debian 12 package; tools/setup installs them.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GST REQUIRED IMPORTED_TARGET
  gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 gstreamer-pbutils-1.0)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs objdetect video videoio dnn)
find_package(fmt REQUIRED)
# spdlog (libspdlog-dev, built against Debian's fmt): log messages on stderr.
find_package(spdlog REQUIRED)
# cpp-httplib (libcpp-httplib-dev): the metrics server (--http) and the tests' HTTP client.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
# zxing-cpp (libzxing-dev): the only reader of QR codes and barcodes Debian ships for C++; Debian's
# OpenCV is built without a QR decoder. 1.4's API (DecodeHints, ReadBarcodes) is what we use.
find_package(ZXing 1.4 REQUIRED)
find_package(Threads REQUIRED)
# gst-rtsp-server (libgstrtspserver-1.0-dev): the restream output, and the tests' RTSP server; with
# GIO (libglib2.0-dev), whose addresses and errors the restream checks.
pkg_check_modules(GST_RTSP REQUIRED IMPORTED_TARGET gstreamer-rtsp-server-1.0 gio-2.0)

# libconcurrentqueue-dev ships headers only, without a CMake package.
find_path(CONCURRENTQUEUE_INCLUDE_DIR concurrentqueue/blockingconcurrentqueue.h REQUIRED)
add_library(lookout_concurrentqueue INTERFACE)
target_include_directories(lookout_concurrentqueue SYSTEM INTERFACE ${CONCURRENTQUEUE_INCLUDE_DIR})

if(LOOKOUT_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # Xlib, for the display tests to close lookout's window as a window manager would.
  pkg_check_modules(X11 REQUIRED IMPORTED_TARGET x11)
endif()
