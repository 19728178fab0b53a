#include "gstreamer/gst_support.h"

#include <fmt/core.h>

#include <cstring>
#include <mutex>

#include "lookout/core/error.h"

namespace lookout::gst {

void ensure_initialized() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    GError* error = nullptr;
    // No argv: GStreamer's own command-line options belong to gst-launch, not to us.
    if (!gst_init_check(nullptr, nullptr, &error)) {
      failure = error != nullptr ? error->message : "unknown reason";
      g_clear_error(&error);
    }
  });
  if (!failure.empty()) throw RuntimeError("cannot initialise GStreamer: " + failure);
}

bool is_uri(const std::string& input) { return input.find("://") != std::string::npos; }

std::string to_uri(const std::string& input) {
  if (is_uri(input)) return input;
  GError* error = nullptr;
  gchar* uri = gst_filename_to_uri(input.c_str(), &error);
  if (uri == nullptr) {
    const std::string reason = error != nullptr ? error->message : "unknown reason";
    g_clear_error(&error);
    throw ConfigError(fmt::format("input '{}' cannot be turned into a URI: {}", input, reason));
  }
  std::string result(uri);
  g_free(uri);
  return result;
}

std::string mask_credentials(const std::string& text) {
  std::string result;
  std::size_t from = 0;
  for (;;) {
    const std::size_t scheme_end = text.find("://", from);
    if (scheme_end == std::string::npos) break;
    const std::size_t authority = scheme_end + 3;
    // The authority ends at the path, query or fragment, or where the URI ends inside prose.
    std::size_t authority_end = text.find_first_of("/?#'\" \t\n)", authority);
    if (authority_end == std::string::npos) authority_end = text.size();
    const std::size_t at = text.rfind('@', authority_end);
    result.append(text, from, authority - from);
    if (at != std::string::npos && at >= authority && at < authority_end) {
      result += "***";
      from = at;
    } else {
      from = authority;
    }
  }
  result.append(text, from, std::string::npos);
  return result;
}

std::string describe(GstMessage* message) {
  GError* error = nullptr;
  gchar* debug = nullptr;
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error(message, &error, &debug);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning(message, &error, &debug);
      break;
    default:
      return GST_MESSAGE_TYPE_NAME(message);
  }
  std::string text =
      GST_MESSAGE_SRC_NAME(message) != nullptr ? GST_MESSAGE_SRC_NAME(message) : "pipeline";
  text += ": ";
  // GStreamer's debug text (source locations, element paths) is left out: it is for GStreamer's
  // developers, and GST_DEBUG shows it to anyone who needs it.
  text += error != nullptr ? error->message : "unknown error";
  g_clear_error(&error);
  g_free(debug);
  return mask_credentials(text);
}

void PipelineStop::operator()(GstElement* pipeline) const {
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

GstElement* make_element(const char* factory, const char* name) {
  GstElement* element = gst_element_factory_make(factory, name);
  if (element != nullptr) return element;
  // Which Debian package usually holds the plugin, so the message says what to install.
  struct Hint {
    const char* factory;
    const char* package;
  };
  static constexpr Hint kHints[] = {
      {"x264enc", "gstreamer1.0-plugins-ugly"},
      {"h264parse", "gstreamer1.0-plugins-bad"},
      {"mp4mux", "gstreamer1.0-plugins-good"},
      {"matroskamux", "gstreamer1.0-plugins-good"},
  };
  const char* package = "gstreamer1.0-plugins-base";
  for (const Hint& hint : kHints) {
    if (std::strcmp(hint.factory, factory) == 0) package = hint.package;
  }
  throw RuntimeError(
      fmt::format("GStreamer element '{}' is not available; install {} (gst-inspect-1.0 {} tells)",
                  factory, package, factory));
}

MessagePtr wait_for_eos_or_error(GstBus* bus, std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  const GstClockTime timeout = ns > 0 ? static_cast<GstClockTime>(ns) : 0;
  return MessagePtr(gst_bus_timed_pop_filtered(
      bus, timeout, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR)));
}

MessagePtr pop_error(GstBus* bus) {
  return MessagePtr(gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR));
}

}  // namespace lookout::gst
