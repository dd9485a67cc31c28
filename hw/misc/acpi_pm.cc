// ACPI PM1a event/control blocks and PM timer (ACPI 6.4 4.8.3.1-4.8.3.3).
#include "hw/misc/acpi_pm.h"

#include <cstdio>

namespace tandem::hw {

namespace {
constexpr uint16_t kStatusTimer = 1u << 0, kStatusPowerButton = AcpiPm::kPowerButton, kStatusWake = 1u << 15;
constexpr uint16_t kStatusBits = kStatusTimer | kStatusPowerButton | kStatusWake;
constexpr uint16_t kControlWritable = 0x1C07;  // SCI_EN, BM_RLD, GBL_RLS, SLP_TYP
}  // namespace

uint32_t AcpiPm::TimerValue() const {
  unsigned __int128 ticks = static_cast<unsigned __int128>(clock_.NowNs()) * kTimerHz / 1000000000u;
  return static_cast<uint32_t>(ticks) & 0xFFFFFF;
}

uint32_t AcpiPm::ReadRegister(uint64_t reg) const {
  switch (reg) {
    case kPm1StatusOffset: return status_ | (uint32_t{enable_} << 16);
    case kPm1EnableOffset: return enable_;
    case kPm1ControlOffset: return control_;
    case kPmTimerOffset: return TimerValue();
    default: return 0;
  }
}

uint64_t AcpiPm::Read(uint64_t offset, unsigned size) {
  uint64_t reg = offset >= kPmTimerOffset ? kPmTimerOffset : offset & ~1ull;
  if (offset >= kPm1ControlOffset + 2 && offset < kPmTimerOffset) return 0;
  uint64_t value = ReadRegister(reg) >> (8 * (offset - reg));
  return size >= 4 ? value & 0xFFFFFFFF : value & ((1ull << (8 * size)) - 1);
}

void AcpiPm::Write(uint64_t offset, unsigned size, uint64_t value) {
  // A 32-bit write at offset 0 covers status and enable, as the PM1 event
  // block is often accessed.
  for (unsigned i = 0; i < size; ++i) {
    uint64_t at = offset + i;
    uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    unsigned shift = 8 * (at & 1);
    switch (at & ~1ull) {
      case kPm1StatusOffset:
        status_ &= ~((uint16_t{byte} << shift) & kStatusBits);  // write 1 to clear
        break;
      case kPm1EnableOffset:
        enable_ = static_cast<uint16_t>((enable_ & ~(0xFF << shift)) | (byte << shift));
        break;
      case kPm1ControlOffset: {
        uint16_t written = static_cast<uint16_t>((control_ & ~(0xFF << shift)) | (byte << shift));
        // Act once the whole written value is in, i.e. on its last byte here.
        if (at + 1 != offset + size && (at & 1) == 0) {
          control_ = static_cast<uint16_t>(written & kControlWritable);
          break;
        }
        control_ = static_cast<uint16_t>((written & kControlWritable) | kSciEn);
        if (written & kSlpEn) {
          uint16_t type = (written >> kSlpTypShift) & 7;
          if (type == kSlpTypS5) {
            if (request_exit_) request_exit_(0);
          } else if (!logged_sleep_) {
            logged_sleep_ = true;
            if (log_) log_->Log(kLogUnimp, "tandem: ACPI sleep type %u not supported (only S5 power-off)", type);
          }
        }
        break;
      }
      default:
        break;  // the PM timer is read-only
    }
  }
  UpdateSci();
}

void AcpiPm::PressPowerButton() {
  status_ |= kStatusPowerButton;
  UpdateSci();
}

// The SCI is a level (ACPI 6.4 4.8.2.1): high while an event's status and
// enable bits are both set. Only the power button event is ever set here.
void AcpiPm::UpdateSci() {
  bool level = (status_ & enable_ & kStatusPowerButton) != 0;
  if (level == sci_level_) return;
  sci_level_ = level;
  if (sci_) sci_->SetLevel(level);
}

void AcpiPm::Reset() {
  status_ = 0;
  enable_ = 0;
  control_ = kSciEn;
  UpdateSci();
}

void AcpiPm::VisitState(StateVisitor& v) { v(sci_level_, status_, enable_, control_); }

}  // namespace tandem::hw
