#include "lookout/pipeline/logging.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <fmt/core.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace lookout {
namespace {

// "\r" returns to the start of the line and "ESC [ K" erases it: how the status line is removed
// before anything else is written, and redrawn in place.
constexpr const char* kEraseLine = "\r\x1b[K";

// Messages quote what the user wrote, which may be megabytes (a generated path, a pasted file). A
// line longer than this keeps its start (what is wrong, and where) and its end (what to do), and
// says how much of the middle it leaves out.
constexpr std::size_t kMaxLineBytes = 2000;
constexpr std::size_t kKeptBytes = kMaxLineBytes / 2;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string shorten_lines(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), 4 * kMaxLineBytes));
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::size_t length = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(0, length);
    text.remove_prefix(length);
    if (line.size() <= kMaxLineBytes) {
      out += line;
      continue;
    }
    // Cut at character boundaries, so that UTF-8 stays whole.
    std::size_t head = kKeptBytes;
    while (head > 0 && is_continuation_byte(line[head])) --head;
    std::size_t tail = line.size() - kKeptBytes;
    while (tail < line.size() && is_continuation_byte(line[tail])) ++tail;
    out += line.substr(0, head);
    out += fmt::format(" [... {} bytes left out ...] ", tail - head);
    out += line.substr(tail);
  }
  return out;
}

// The one writer of stderr for messages: spdlog's records, plain lines and the status line, all
// under the sink's mutex.
class TerminalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit TerminalSink(bool terminal) : terminal_(terminal) {}

  bool terminal() const { return terminal_; }

  void set_status(const std::string& text) {
    if (!terminal_) return;
    std::lock_guard lock(mutex_);
    status_ = text;
    std::string out = kEraseLine;
    out += status_;
    write(out);
  }

  void line(const std::string& text) {
    std::lock_guard lock(mutex_);
    emit(text + "\n");
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    emit(shorten_lines(std::string_view(formatted.data(), formatted.size())));
  }
  void flush_() override { std::fflush(stderr); }

 private:
  // Called with mutex_ held.
  void emit(const std::string& text) {
    if (!terminal_ || status_.empty()) {
      write(text);
      return;
    }
    write(kEraseLine + text + status_);
  }

  static void write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }

  const bool terminal_;
  std::string status_;
};

std::once_flag g_init;
std::shared_ptr<TerminalSink> g_sink;

TerminalSink& sink() {
  init_logging();
  return *g_sink;
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kDebug:
      return spdlog::level::debug;
  }
  return spdlog::level::info;
}

}  // namespace

std::optional<LogLevel> parse_log_level(const std::string& name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

void init_logging() {
  std::call_once(g_init, [] {
    g_sink = std::make_shared<TerminalSink>(::isatty(STDERR_FILENO) == 1);
    // "lookout: error: ..." is also how the command has always worded its errors.
    g_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "lookout: %l: %v", spdlog::pattern_time_type::local, "\n"));
    auto logger = std::make_shared<spdlog::logger>("lookout", g_sink);
    logger->set_level(spdlog::level::info);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  });
}

void set_log_level(LogLevel level) {
  init_logging();
  spdlog::default_logger_raw()->set_level(to_spdlog(level));
}

LogLevel log_level() {
  init_logging();
  switch (spdlog::default_logger_raw()->level()) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LogLevel::kDebug;
    case spdlog::level::info:
      return LogLevel::kInfo;
    case spdlog::level::warn:
      return LogLevel::kWarn;
    default:
      return LogLevel::kError;
  }
}

bool stderr_is_terminal() { return sink().terminal(); }

void show_status_line(const std::string& text) { sink().set_status(text); }

void print_line(const std::string& text) { sink().line(text); }

}  // namespace lookout
