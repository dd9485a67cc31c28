// QEMU's pc-testdev (see pc_testdev.h).
#include "hw/misc/pc_testdev.h"

#include <algorithm>
#include <cstring>

namespace tandem::hw {

PcTestdev::PcTestdev(std::array<IrqLine*, kIrqLines> lines) : irq_lines_(lines) {}

void PcTestdev::Reset() {
  data_port_.value = 0;
  std::fill(iomem_.bytes.begin(), iomem_.bytes.end(), 0);
}

void PcTestdev::VisitState(StateVisitor& v) {
  v(data_port_.value);
  v.Raw(iomem_.bytes.data(), iomem_.bytes.size());
}

uint64_t PcTestdev::DataPort::Read(uint64_t offset, unsigned size) {
  const unsigned shift = (offset & 3) * 8;
  const uint64_t mask = size >= 4 ? 0xFFFFFFFFull : (1ull << (size * 8)) - 1;
  return (value >> shift) & mask;
}

void PcTestdev::DataPort::Write(uint64_t offset, unsigned size, uint64_t data) {
  const unsigned shift = (offset & 3) * 8;
  const uint64_t mask = (size >= 4 ? 0xFFFFFFFFull : (1ull << (size * 8)) - 1) << shift;
  value = static_cast<uint32_t>((value & ~mask) | ((data << shift) & mask));
}

void PcTestdev::IrqLines::Write(uint64_t offset, unsigned size, uint64_t value) {
  // The region takes bytes, so QEMU splits a wider access into one per
  // line: OUTL of 1 to line 11 (kvm-unit-tests' realmode test) raises line
  // 11 and lowers lines 12-14.
  for (unsigned i = 0; i < size; ++i) {
    const uint64_t line = offset + i;
    if (line < kIrqLines && lines_[line] != nullptr) lines_[line]->SetLevel(((value >> (8 * i)) & 0xFF) != 0);
  }
}

uint64_t PcTestdev::Iomem::Read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  if (offset < bytes.size()) std::memcpy(&value, &bytes[offset], std::min<uint64_t>(size, bytes.size() - offset));
  return value;
}

void PcTestdev::Iomem::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset < bytes.size()) std::memcpy(&bytes[offset], &value, std::min<uint64_t>(size, bytes.size() - offset));
}

}  // namespace tandem::hw
