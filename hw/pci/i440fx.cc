// i440FX host bridge: PAM shadowing (datasheet 3.2.18) and SMRAM (3.2.24).
#include "hw/pci/i440fx.h"

#include "hw/pc_layout.h"

namespace tandem::hw {

namespace {
constexpr uint8_t kRead = 1, kWrite = 2;
constexpr uint8_t kSmramDefault = 0x02;  // C_BASE_SEG: SMRAM at 0xA0000, closed
constexpr uint8_t kSmramWritable = 0x78;  // D_OPEN, D_CLS, D_LCK, G_SMRAME: stored, not acted on
enum LogKey : unsigned { kLogWriteOnly = 8, kLogSmramOpen = 9 };

// Segment i's nibble: 0xF0000 is PAM0's high nibble, then 0xC0000 upward two
// per register from PAM1.
unsigned PamRegister(int segment) { return segment == 12 ? 0 : 1 + segment / 2; }
unsigned PamShift(int segment) { return segment == 12 ? 4 : (segment % 2) * 4; }
}  // namespace

I440fx::I440fx(std::function<void(const MemoryMap::ShadowModes&)> set_shadow, std::array<uint8_t, kPamCount> reset_pam)
    : PciDevice("i440FX host bridge", 0x8086, 0x1237, 0x060000, 0x02), set_shadow_(std::move(set_shadow)) {
  for (unsigned i = 0; i < kPamCount; ++i) {
    Set8(kPam0 + i, reset_pam[i]);
    SetWritable(kPam0 + i, 1, i == 0 ? 0x30 : 0x33);
  }
  Set8(kSmram, kSmramDefault);
  SetWritable(kSmram, 1, kSmramWritable);
}

std::array<uint8_t, I440fx::kPamCount> I440fx::PamFor(const MemoryMap::ShadowModes& modes) {
  std::array<uint8_t, kPamCount> pam{};
  for (int i = 0; i < layout::kShadowSegments; ++i) {
    uint8_t bits = modes[i] == ShadowMode::kReadWrite ? kRead | kWrite : modes[i] == ShadowMode::kReadOnly ? kRead : 0;
    pam[PamRegister(i)] |= static_cast<uint8_t>(bits << PamShift(i));
  }
  return pam;
}

MemoryMap::ShadowModes I440fx::shadow() const {
  MemoryMap::ShadowModes modes;
  for (int i = 0; i < layout::kShadowSegments; ++i) {
    uint8_t bits = (Get8(kPam0 + PamRegister(i)) >> PamShift(i)) & 3;
    // Write-only (writes to RAM, reads from ROM/PCI) would need a map with
    // different read and write targets; firmware does not use it, so it is
    // read-write here, with a log line.
    modes[i] = bits == 0 ? ShadowMode::kOff : bits == kRead ? ShadowMode::kReadOnly : ShadowMode::kReadWrite;
  }
  return modes;
}

void I440fx::ApplyPam() {
  if (set_shadow_) set_shadow_(shadow());
}

void I440fx::ConfigWritten(unsigned offset, unsigned size) {
  if (offset < kPam0 + kPamCount && offset + size > kPam0) {
    for (int i = 0; i < layout::kShadowSegments; ++i) {
      if (((Get8(kPam0 + PamRegister(i)) >> PamShift(i)) & 3) == kWrite) {
        LogOnce(kLogWriteOnly, "PAM segment set write-only: treated as read-write");
      }
    }
    ApplyPam();
  }
  if (offset <= kSmram && offset + size > kSmram && (Get8(kSmram) & 0x40)) {
    LogOnce(kLogSmramOpen, "SMRAM D_OPEN set: SMRAM is not modelled and stays closed");
  }
}

}  // namespace tandem::hw
