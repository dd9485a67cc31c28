// Diagnostics about what a guest did that the hardware tolerates, kept behind
// QEMU's log categories (`-d unimp,guest_errors`, `-D FILE`; QEMU's
// include/qemu/log.h): silent unless the user enables the category.
// unimp: the guest used something tandem does not model; guest_errors: the
// guest did something the hardware answers without complaint (a probe of a
// port nobody decodes, a reserved register value).
#pragma once

#include <cstdarg>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "hw/char_io.h"
#include "hw/status.h"

namespace tandem::hw {

enum LogCategory : unsigned {
  kLogUnimp = 1u << 0,
  kLogGuestErrors = 1u << 1,
};

// One per board (BoardConfig sets the categories and the sink); devices and
// engines get a pointer to it. Thread-safe: vCPU threads log concurrently.
class GuestLog {
 public:
  // mask: enabled LogCategory bits; sink: where lines go (nullptr: stderr).
  explicit GuestLog(unsigned mask = 0, CharSink* sink = nullptr) : mask_(mask), sink_(sink) {}
  GuestLog(const GuestLog&) = delete;
  GuestLog& operator=(const GuestLog&) = delete;

  bool enabled(LogCategory category) const { return (mask_ & category) != 0; }
  // One line (the newline is added) when the category is enabled.
  void Log(LogCategory category, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  // As Log, but only the first time for each key.
  void LogOnce(LogCategory category, const std::string& key, const char* fmt, ...)
      __attribute__((format(printf, 4, 5)));

  // A comma-separated list of category names ("unimp,guest_errors") as a
  // mask; an unknown name is an error naming it.
  static Result<unsigned> ParseCategories(std::string_view list);
  // The categories with a line each, for `-d help`.
  static std::string Help();

 private:
  void Write(const char* fmt, std::va_list args);

  const unsigned mask_;
  CharSink* const sink_;
  std::mutex mutex_;  // guards once_ and keeps lines whole
  std::set<std::string> once_;
};

}  // namespace tandem::hw
