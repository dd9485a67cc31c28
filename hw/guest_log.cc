#include "hw/guest_log.h"

#include <algorithm>
#include <cstdio>

namespace tandem::hw {
namespace {

struct CategoryName {
  LogCategory category;
  const char* name;
  const char* help;
};
constexpr CategoryName kCategories[] = {
    {kLogUnimp, "unimp", "log what the guest used that tandem does not model"},
    {kLogGuestErrors, "guest_errors", "log what the guest did wrong (e.g. accesses to no device)"},
};

}  // namespace

void GuestLog::Log(LogCategory category, const char* fmt, ...) {
  if (!enabled(category)) return;
  std::va_list args;
  va_start(args, fmt);
  std::lock_guard lock(mutex_);
  Write(fmt, args);
  va_end(args);
}

void GuestLog::LogOnce(LogCategory category, const std::string& key, const char* fmt, ...) {
  if (!enabled(category)) return;
  std::lock_guard lock(mutex_);
  if (!once_.insert(key).second) return;
  std::va_list args;
  va_start(args, fmt);
  Write(fmt, args);
  va_end(args);
}

void GuestLog::Write(const char* fmt, std::va_list args) {
  char line[512];
  int n = std::vsnprintf(line, sizeof line, fmt, args);
  if (n < 0) return;
  size_t len = std::min(static_cast<size_t>(n), sizeof line - 1);
  if (!sink_) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(len), line);
    return;
  }
  for (size_t i = 0; i < len; ++i) sink_->Put(static_cast<uint8_t>(line[i]));
  sink_->Put('\n');
}

Result<unsigned> GuestLog::ParseCategories(std::string_view list) {
  unsigned mask = 0;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    bool known = false;
    for (const CategoryName& c : kCategories) {
      if (item == c.name) {
        mask |= c.category;
        known = true;
      }
    }
    if (!known) return Status::Error("unknown log category '" + std::string(item) + "' (-d help lists them)");
  }
  return mask;
}

std::string GuestLog::Help() {
  std::string out = "Log items (comma separated):\n";
  for (const CategoryName& c : kCategories) {
    char line[128];
    std::snprintf(line, sizeof line, "%-12s %s\n", c.name, c.help);
    out += line;
  }
  return out;
}

}  // namespace tandem::hw
