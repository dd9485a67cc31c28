// isa-debug-exit: QEMU exits with (value << 1) | 1, so a guest can never
// report plain success (0) and the status tells it apart from a crash.
#include "hw/misc/debug_ports.h"

namespace tandem::hw {

void DebugExit::Write(uint64_t offset, unsigned size, uint64_t value) {
  uint64_t mask = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
  int status = static_cast<int>(((value & mask) << 1) | 1);
  if (request_exit_) request_exit_(status);
}

}  // namespace tandem::hw
