#pragma once
// Small shared helpers for the two areas that use GStreamer (capture and output): one-time
// initialisation, turning what the user typed into a URI, keeping credentials out of messages,
// wording bus errors, owning references with C++ types, and waiting on a bus.
// Private to the library: nothing outside src/ includes this header.
// Thread safety: every function may be called from any thread.

#include <gst/gst.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace lookout::gst {

// Initialises GStreamer exactly once per process (later calls return at once). Throws
// RuntimeError if GStreamer cannot be initialised.
void ensure_initialized();

// True if `input` names a URI ("scheme://..."), false if it is a local path.
bool is_uri(const std::string& input);

// A URI for `input`: URIs are returned unchanged; a local path (relative or absolute) becomes an
// absolute file:// URI. Throws ConfigError naming the input if the path cannot be expressed as a
// URI. Requires ensure_initialized().
std::string to_uri(const std::string& input);

// `text` with the user-info part of every URI in it replaced: "rtsp://user:pw@cam/x" becomes
// "rtsp://***@cam/x". Text without credentials is returned unchanged. For messages and logs.
std::string mask_credentials(const std::string& text);

// An ERROR (or WARNING) message worded as "element-name: message", with credentials masked. Other message types give their type name.
std::string describe(GstMessage* message);

// Deleters so that GStreamer references can live in std::unique_ptr. Each releases exactly one
// reference.
struct ObjectUnref {
  void operator()(gpointer object) const { gst_object_unref(object); }
};
struct MessageUnref {
  void operator()(GstMessage* message) const { gst_message_unref(message); }
};
struct CapsUnref {
  void operator()(GstCaps* caps) const { gst_caps_unref(caps); }
};
struct SampleUnref {
  void operator()(GstSample* sample) const { gst_sample_unref(sample); }
};
// For a top-level pipeline: stops it (state NULL, which joins its streaming threads) and then
// releases it, so nothing the pipeline calls back into can run after the deleter returns.
struct PipelineStop {
  void operator()(GstElement* pipeline) const;
};

using BusPtr = std::unique_ptr<GstBus, ObjectUnref>;
using PadPtr = std::unique_ptr<GstPad, ObjectUnref>;
using MessagePtr = std::unique_ptr<GstMessage, MessageUnref>;
using CapsPtr = std::unique_ptr<GstCaps, CapsUnref>;
using SamplePtr = std::unique_ptr<GstSample, SampleUnref>;
using PipelinePtr = std::unique_ptr<GstElement, PipelineStop>;

// Makes an element of `factory` named `name`. Throws RuntimeError naming the factory and the
// Debian package that usually provides it if the plugin is not installed.
GstElement* make_element(const char* factory, const char* name);

// Waits on `bus` for EOS or ERROR until `deadline`, discarding other messages. Returns the
// message, or null if the deadline passed first.
MessagePtr wait_for_eos_or_error(GstBus* bus, std::chrono::steady_clock::time_point deadline);

// The first ERROR message already on `bus`, without waiting; messages of other types queued
// before it are discarded (which also keeps the bus from growing). Null if there is none.
MessagePtr pop_error(GstBus* bus);

// GStreamer time (GstClockTime, unsigned, NONE if unknown) as signed nanoseconds, -1 if unknown.
inline std::int64_t to_ns(GstClockTime time) {
  return GST_CLOCK_TIME_IS_VALID(time) ? static_cast<std::int64_t>(time) : -1;
}

}  // namespace lookout::gst
