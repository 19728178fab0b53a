#include "support/xvfb.h"

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace lookout::testing {
namespace {

// The descriptor number Xvfb writes its display number to, in the child.
constexpr int kDisplayFd = 3;

// True if `window` shows anything but black (a frame has been drawn in it).
bool shows_a_picture(::Display* x, Window window) {
  XWindowAttributes attributes{};
  if (XGetWindowAttributes(x, window, &attributes) == 0 || attributes.map_state != IsViewable) {
    return false;
  }
  XImage* image = XGetImage(x, window, 0, 0, static_cast<unsigned>(attributes.width),
                            static_cast<unsigned>(attributes.height), AllPlanes, ZPixmap);
  if (image == nullptr) return false;
  bool drawn = false;
  for (int y = 0; y < attributes.height && !drawn; ++y) {
    for (int x_pos = 0; x_pos < attributes.width && !drawn; ++x_pos) {
      drawn = XGetPixel(image, x_pos, y) != 0;
    }
  }
  XDestroyImage(image);
  return drawn;
}

void reap(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace

Xvfb::Xvfb() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("Xvfb: pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("Xvfb: fork failed");
  if (pid_ == 0) {
    // dup2 clears close-on-exec on the copy, so Xvfb inherits it.
    if (fds[1] == kDisplayFd) {
      ::fcntl(kDisplayFd, F_SETFD, 0);
    } else {
      ::dup2(fds[1], kDisplayFd);
    }
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    // -noreset: by default the server resets when its last client leaves (here the probe below),
    // and a client that connects during the reset is turned away.
    ::execlp("Xvfb", "Xvfb", "-displayfd", "3", "-noreset", "-screen", "0", "1024x768x24",
             "-nolisten", "tcp", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string number;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool complete = false;
  while (!complete) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd fd{fds[0], POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    char c = 0;
    const ssize_t n = ::read(fds[0], &c, 1);
    if (n <= 0) break;  // Xvfb exited (or is not installed: the child exits 127)
    if (c == '\n') {
      complete = !number.empty();
      break;
    }
    number += c;
  }
  ::close(fds[0]);
  if (!complete) {
    reap(pid_);
    throw std::runtime_error(
        "Xvfb did not start (is the Debian package xvfb installed? tools/setup installs it)");
  }
  display_ = ":" + number;
  // Xvfb names its display once it listens; a connection to its socket confirms it. A plain
  // socket, not Xlib: Xlib must not be touched in the test's own process before a video sink there
  // calls XInitThreads, and a forked child of this threaded process must not allocate.
  const std::string socket_path = "/tmp/.X11-unix/X" + number;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
    const bool connected =
        fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    if (fd >= 0) ::close(fd);
    if (connected) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  reap(pid_);
  throw std::runtime_error("Xvfb started on " + display_ + " but accepts no client");
}

Xvfb::~Xvfb() { reap(pid_); }

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) saved_ = old;
  if (value) {
    ::setenv(name_.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (saved_) {
    ::setenv(name_.c_str(), saved_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

bool close_window(const std::string& display, const std::string& title_prefix,
                  std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ::Display* x = nullptr;
  while ((x = XOpenDisplay(display.c_str())) == nullptr) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const Atom protocols = XInternAtom(x, "WM_PROTOCOLS", False);
  const Atom delete_window = XInternAtom(x, "WM_DELETE_WINDOW", False);
  bool sent = false;
  while (!sent && std::chrono::steady_clock::now() < deadline) {
    Window root_return = 0;
    Window parent = 0;
    Window* children = nullptr;
    unsigned count = 0;
    if (XQueryTree(x, DefaultRootWindow(x), &root_return, &parent, &children, &count) != 0) {
      for (unsigned i = 0; i < count && !sent; ++i) {
        char* name = nullptr;
        if (XFetchName(x, children[i], &name) != 0 && name != nullptr) {
          if (std::string(name).rfind(title_prefix, 0) == 0 && shows_a_picture(x, children[i])) {
            XEvent event{};
            event.xclient.type = ClientMessage;
            event.xclient.window = children[i];
            event.xclient.message_type = protocols;
            event.xclient.format = 32;
            event.xclient.data.l[0] = static_cast<long>(delete_window);
            event.xclient.data.l[1] = CurrentTime;
            XSendEvent(x, children[i], False, NoEventMask, &event);
            XFlush(x);
            sent = true;
          }
          XFree(name);
        }
      }
      if (children != nullptr) XFree(children);
    }
    if (!sent) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  XCloseDisplay(x);
  return sent;
}

}  // namespace lookout::testing
