#include "target-x86/cpu_state.h"

namespace tandem::x86 {

namespace {
// Present, read/write accessed data segment, as loaded in real mode.
constexpr uint32_t kRealData = 0x3 | Segment::kS | Segment::kP;
constexpr uint32_t kRealCode = 0xB | Segment::kS | Segment::kP;
}  // namespace

CpuState ResetState() {
  CpuState s;
  s.rflags = 0x2;
  s.rip = 0xFFF0;
  for (auto& seg : s.seg) seg = Segment{0, 0, 0xFFFF, kRealData};
  s.seg[kCs] = Segment{0xF000, 0xFFFF0000, 0xFFFF, kRealCode};
  s.ldtr = Segment{0, 0, 0xFFFF, 0x2 | Segment::kP};   // LDT type
  s.tr = Segment{0, 0, 0xFFFF, 0xB | Segment::kP};     // busy 32-bit TSS
  s.gdtr = {0, 0xFFFF};
  s.idtr = {0, 0xFFFF};
  s.cr0 = kCr0Et | kCr0Nw | kCr0Cd;  // 0x60000010
  s.gpr[kRdx] = 0x600;               // family/model/stepping after reset; refined by CPUID model
  s.dr[6] = 0xFFFF0FF0;
  s.dr[7] = 0x400;
  return s;
}

CpuState Flat32State(uint64_t entry) {
  CpuState s = ResetState();
  constexpr uint32_t kFlatCode = 0xB | Segment::kS | Segment::kP | Segment::kDb | Segment::kG;
  constexpr uint32_t kFlatData = 0x3 | Segment::kS | Segment::kP | Segment::kDb | Segment::kG;
  for (auto& seg : s.seg) seg = Segment{0x10, 0, 0xFFFFFFFF, kFlatData};
  s.seg[kCs] = Segment{0x08, 0, 0xFFFFFFFF, kFlatCode};
  s.cr0 = kCr0Pe | kCr0Et;
  s.rip = entry;
  s.gpr[kRdx] = 0;
  return s;
}

CpuMode ModeOf(const CpuState& s) {
  if (!(s.cr0 & kCr0Pe)) return CpuMode::kReal;
  if (s.msr.efer & kEferLma) {
    if (s.seg[kCs].l()) return CpuMode::kLong64;
    return s.seg[kCs].db() ? CpuMode::kCompat32 : CpuMode::kCompat16;
  }
  if (s.rflags & kFlagVm) return CpuMode::kVirtual8086;
  return s.seg[kCs].db() ? CpuMode::kProtected32 : CpuMode::kProtected16;
}

}  // namespace tandem::x86
