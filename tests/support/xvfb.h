#pragma once
// Xvfb: a virtual X server for tests that open windows (Debian package xvfb). The constructor
// starts `Xvfb -displayfd`, which picks a free display number itself and reports it once it
// accepts connections, so tests running at the same time never share a screen; the destructor
// terminates it and waits for it. Also: closing a window as a window manager would.
//
//   Xvfb x;                       // throws std::runtime_error if Xvfb is missing or not up in 20 s
//   ScopedEnv env("DISPLAY", x.display());
//   ... run something that opens a window ...
//
// Thread safety: thread-compatible.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

namespace lookout::testing {

class Xvfb {
 public:
  Xvfb();
  Xvfb(const Xvfb&) = delete;
  Xvfb& operator=(const Xvfb&) = delete;
  ~Xvfb();

  const std::string& display() const { return display_; }  // ":N"

 private:
  pid_t pid_ = -1;
  std::string display_;
};

// Sets (or, with nullopt, unsets) an environment variable for the current scope; restores it after.
// Child processes started meanwhile inherit the change.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv();

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

// Waits until a top-level window whose title starts with `title_prefix` is on `display` and shows
// a picture (a pixel that is not black), then asks it to close (a WM_DELETE_WINDOW message, what a
// window manager sends when the user clicks the close button). False if no such window appeared
// before `timeout`.
bool close_window(const std::string& display, const std::string& title_prefix,
                  std::chrono::seconds timeout);

}  // namespace lookout::testing
