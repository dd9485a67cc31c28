// Guest memory as a device's DMA engine sees it (QEMU's dma_memory_read/
// write): only RAM is reachable; a transfer touching anything else (a hole,
// MMIO, ROM for writes) fails as a whole and the device reports the error the
// way its hardware does.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hw/guest_memory.h"

namespace tandem::hw {

class DmaMemory {
 public:
  virtual ~DmaMemory() = default;
  // Copies guest memory into `out`; false (nothing copied) unless every byte
  // of [gpa, gpa + size) is RAM.
  virtual bool Read(uint64_t gpa, void* out, uint64_t size) = 0;
  // Copies `in` into guest RAM; false (nothing written) unless every byte of
  // the range is writable RAM.
  virtual bool Write(uint64_t gpa, const void* in, uint64_t size) = 0;
};

// DMA into a GuestMemory: RAM regions (including shadow RAM the chipset has
// made writable) only.
class GuestMemoryDma final : public DmaMemory {
 public:
  explicit GuestMemoryDma(GuestMemory& memory) : memory_(memory) {}

  bool Read(uint64_t gpa, void* out, uint64_t size) override {
    if (!IsRam(gpa, size)) return false;
    return memory_.ReadPhys(gpa, out, size);
  }
  bool Write(uint64_t gpa, const void* in, uint64_t size) override {
    if (!IsRam(gpa, size)) return false;
    return memory_.WritePhys(gpa, in, size);
  }

 private:
  bool IsRam(uint64_t gpa, uint64_t size) const {
    if (gpa + size < gpa) return false;
    while (size) {
      GuestMemory::Span span = memory_.Lookup(gpa);
      if (!span.host || !span.writable) return false;
      uint64_t n = std::min(size, span.length);
      gpa += n;
      size -= n;
    }
    return true;
  }

  GuestMemory& memory_;
};

}  // namespace tandem::hw
