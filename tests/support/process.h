#pragma once
// Runs a command (no shell) and captures its exit code, stdout and stderr; for tests of the
// `lookout` command itself. A run that exceeds its timeout is killed and reported as such.

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

namespace lookout::testing {

struct ProcessResult {
  int exit_code = -1;     // -1 if killed by a signal or timed out
  int signal = 0;         // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;
};

// How the process ended and everything it printed, for a failure message.
std::string describe(const ProcessResult& result);

// A signal to send to the process once `after` has passed (e.g. SIGINT to test Ctrl-C), or, when
// `when` is set, once *when is true (checked every 20 ms; another thread sets it).
// With `repeat` > 1 the signal is sent that many times, `interval` apart (a second Ctrl-C).
struct SignalPlan {
  int signal = 0;
  std::chrono::milliseconds after{0};
  const std::atomic<bool>* when = nullptr;
  int repeat = 1;
  std::chrono::milliseconds interval{0};
};

ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds(300),
                          SignalPlan plan = {});

// Runs the built `lookout` binary with `args`.
ProcessResult run_lookout(const std::vector<std::string>& args,
                          std::chrono::seconds timeout = std::chrono::seconds(600),
                          SignalPlan plan = {});

// A command running in the background while the test acts on it: reads its /proc entries, signals
// it, kills it. Its stdout and stderr go to files (read them while it runs, or from wait()'s
// result), so a chatty child never blocks on a full pipe. It gets this process's environment
// with `environment` ("NAME=VALUE" each) added or replacing. The constructor starts it (no shell;
// throws std::runtime_error if it cannot); the destructor kills it with SIGKILL and reaps it if
// it is still running. One thread only.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string out_path, std::string err_path,
               const std::vector<std::string>& environment = {});
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  int pid() const { return pid_; }
  // True until the process has ended (and then reaps it).
  bool running();
  void signal(int signal);
  // Waits for the end, up to `timeout` (then kills it and reports timed_out), and returns how it
  // ended with what it wrote.
  ProcessResult wait(std::chrono::seconds timeout);

 private:
  int pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_;
  std::string err_path_;
};

}  // namespace lookout::testing
