// PIIX4 PM function: PMBA/PMREGMISC relocation (82371AB 3.3.2.9, 3.3.2.15).
#include "hw/pci/piix4_pm.h"

#include <cstdio>

namespace tandem::hw {

namespace {
constexpr uint32_t kPmBaseMask = 0xFFC0;  // a 64-byte block in the first 64 KiB of I/O
enum LogKey : unsigned { kLogPmBase = 10 };
}  // namespace

Piix4Pm::Piix4Pm(AcpiPm& pm) : PciDevice("PIIX4 PM", 0x8086, 0x7113, 0x068000, 0x03), pm_(pm) {
  Set32(kPmBase, 1);  // bit 0: an I/O space indicator
  SetWritable(kPmBase, 4, kPmBaseMask);
  SetWritable(kPmRegMisc, 1, kPmIoEnable);
  Set32(kDeviceActivityB, kApmcEnable);
  SetInterruptPin(1);
  Set8(kInterruptLine, kDefaultSci);
  SetWritable(kSmbusBase, 4, 0xFFF0);
  SetWritable(kSmbusHostConfig, 1, 0x0F);
}

void Piix4Pm::ConfigWritten(unsigned offset, unsigned size) {
  if ((offset < kPmBase + 4 && offset + size > kPmBase) || (offset <= kPmRegMisc && offset + size > kPmRegMisc)) {
    UpdatePmIo();
  }
}

void Piix4Pm::UpdatePmIo() {
  uint64_t base = Get32(kPmBase) & kPmBaseMask;
  uint64_t want = (Get8(kPmRegMisc) & kPmIoEnable) && base ? base : kUnmapped;
  if (want == mapped_at_ || !bus() || !bus()->pio()) return;
  if (mapped_at_ != kUnmapped) bus()->pio()->Unregister(mapped_at_, &pm_);
  mapped_at_ = kUnmapped;
  if (want == kUnmapped) return;
  Status s = bus()->pio()->Register(want, AcpiPm::kSize, &pm_, "ACPI PM");
  if (!s.ok()) {
    char what[64];
    std::snprintf(what, sizeof what, "PM base 0x%llx not mapped: ", static_cast<unsigned long long>(want));
    LogOnce(kLogPmBase, what + s.message());
    return;
  }
  mapped_at_ = want;
}

}  // namespace tandem::hw
