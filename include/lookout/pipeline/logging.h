#pragma once
// Messages for people on stderr: log messages through spdlog, plus one status line (the progress
// bar) that stays at the bottom of a terminal while messages scroll above it.
//
// Every message is one line, `lookout: LEVEL: text` (LEVEL: error, warning, info, debug), written
// by the process-wide spdlog default logger that init_logging() installs; anywhere in lookout may
// then call spdlog::warn(...) etc. Results (the run summary, bench tables) go to stdout, never here.
// A message line longer than 2000 bytes (one quoting a huge value the user wrote) keeps its first
// and last 1000 bytes, and says how many bytes in between it leaves out.
//
// The status line is drawn only when stderr is a terminal: redrawn in place with a carriage return,
// erased before each message or plain line and drawn again after it, so neither garbles the other.
//
// Thread safety: every function may be called from any thread; writes are serialised by one mutex
// (the sink's), so lines never interleave. Nothing here throws once init_logging() returned.
// Blocking: only for the write to stderr.

#include <optional>
#include <string>

namespace lookout {

enum class LogLevel { kError, kWarn, kInfo, kDebug };

// "error", "warn" (or "warning"), "info", "debug"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(const std::string& name);

// Installs the stderr logger as spdlog's default, at kInfo. Idempotent.
void init_logging();
void set_log_level(LogLevel level);
LogLevel log_level();

// True when stderr is a terminal (decided once, by init_logging()).
bool stderr_is_terminal();

// Sets the status line (one line, no newline) and draws it; an empty text erases it. Does nothing
// when stderr is not a terminal.
void show_status_line(const std::string& text);

// Writes `text` and a newline to stderr as it is (no prefix, whatever the log level), keeping the
// status line below it.
void print_line(const std::string& text);

}  // namespace lookout
