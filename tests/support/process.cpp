#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace lookout::testing {
namespace {
void drain(int fd, std::string& into, bool& open) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) {
    into.append(buffer, static_cast<std::size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    open = false;
  }
}
}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                          SignalPlan plan) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("run_process: pipe failed");
  }
  // posix_spawn, not fork: the tests call this from several threads at once, and a forked child
  // of a threaded process may only make system calls before exec (building argv there allocates,
  // which can deadlock on a lock another thread held at the fork, as seen under TSan). glibc's
  // posix_spawn runs only system calls in the child.
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    for (const int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    throw std::runtime_error("run_process: cannot start " + argv.front() + ": " + std::strerror(spawned));
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  ProcessResult result;
  bool out_open = true;
  bool err_open = true;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  int sent = 0;
  const int to_send = plan.signal == 0 ? 0 : std::max(plan.repeat, 1);
  std::chrono::steady_clock::time_point last_sent;
  while (out_open || err_open) {
    const auto now = std::chrono::steady_clock::now();
    const bool due = sent > 0 ? now - last_sent >= plan.interval
                     : plan.when != nullptr ? plan.when->load()
                                            : now - started >= plan.after;
    if (sent < to_send && due) {
      ::kill(pid, plan.signal);
      ++sent;
      last_sent = now;
    }
    const bool signalled = sent == to_send;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(std::min<long>(left.count(), signalled ? 1000 : 20)));
    if (ready < 0 && errno != EINTR) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) drain(out_pipe[0], result.out, out_open);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) drain(err_pipe[0], result.err, err_open);
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string describe(const ProcessResult& result) {
  std::string how = result.timed_out    ? "timed out"
                    : result.signal != 0 ? "ended by signal " + std::to_string(result.signal)
                                         : "exit code " + std::to_string(result.exit_code);
  return how + "\n--- stdout:\n" + result.out + "--- stderr:\n" + result.err;
}

ProcessResult run_lookout(const std::vector<std::string>& args, std::chrono::seconds timeout,
                          SignalPlan plan) {
  std::vector<std::string> argv{LOOKOUT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, timeout, plan);
}

namespace {
std::string read_file(const std::string& path) {
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  bool more = true;
  while (more) drain(fd, text, more);
  ::close(fd);
  return text;
}
}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, std::string out_path,
                           std::string err_path, const std::vector<std::string>& environment)
    : out_path_(std::move(out_path)), err_path_(std::move(err_path)) {
  // Built before fork(): the child only calls what is safe between fork and exec.
  std::vector<std::string> variables = environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable = *entry;
    const std::string name = variable.substr(0, variable.find('=') + 1);
    const bool replaced = std::any_of(environment.begin(), environment.end(),
                                      [&](const std::string& v) { return v.rfind(name, 0) == 0; });
    if (!replaced) variables.push_back(variable);
  }
  std::vector<char*> envp;
  for (auto& variable : variables) envp.push_back(variable.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  const int out = ::open(out_path_.c_str(), flags, 0644);
  const int err = ::open(err_path_.c_str(), flags, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
    throw std::runtime_error("ChildProcess: cannot create " + out_path_ + " or " + err_path_);
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(out);
    ::close(err);
    throw std::runtime_error("ChildProcess: fork failed");
  }
  if (pid_ == 0) {
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool ChildProcess::running() {
  if (reaped_) return false;
  const pid_t ended = ::waitpid(pid_, &status_, WNOHANG);
  if (ended == pid_ || (ended < 0 && errno != EINTR)) reaped_ = true;
  return !reaped_;
}

void ChildProcess::signal(int signal) {
  if (running()) ::kill(pid_, signal);
}

ProcessResult ChildProcess::wait(std::chrono::seconds timeout) {
  ProcessResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      break;
    }
    ::usleep(20'000);
  }
  if (WIFEXITED(status_)) {
    result.exit_code = WEXITSTATUS(status_);
  } else if (WIFSIGNALED(status_)) {
    result.signal = WTERMSIG(status_);
  }
  result.out = read_file(out_path_);
  result.err = read_file(err_path_);
  return result;
}

}  // namespace lookout::testing
