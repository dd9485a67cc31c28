#include "target-x86/cpu_state.h"

#include <cinttypes>
#include <cstdio>

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

CpuState WaitForSipiState() {
  CpuState s = ResetState();
  s.msr.apic_base &= ~uint64_t{0x100};  // IA32_APIC_BASE.BSP
  s.wait_for_sipi = true;
  return s;
}

void StartAtSipi(CpuState& s, uint8_t vector) {
  s.seg[kCs] = Segment{static_cast<uint16_t>(vector << 8), uint64_t{vector} << 12, 0xFFFF, kRealCode};
  s.rip = 0;
  s.halted = false;
  s.wait_for_sipi = false;
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

std::string DumpRegisters(const x86::CpuState& s) {
  char buf[2048];
  int n = std::snprintf(
      buf, sizeof buf,
      "RAX=%016" PRIx64 " RBX=%016" PRIx64 " RCX=%016" PRIx64 " RDX=%016" PRIx64 "\n"
      "RSI=%016" PRIx64 " RDI=%016" PRIx64 " RBP=%016" PRIx64 " RSP=%016" PRIx64 "\n"
      "R8 =%016" PRIx64 " R9 =%016" PRIx64 " R10=%016" PRIx64 " R11=%016" PRIx64 "\n"
      "R12=%016" PRIx64 " R13=%016" PRIx64 " R14=%016" PRIx64 " R15=%016" PRIx64 "\n"
      "RIP=%016" PRIx64 " RFL=%08" PRIx64 "\n",
      s.gpr[kRax], s.gpr[kRbx], s.gpr[kRcx], s.gpr[kRdx], s.gpr[kRsi], s.gpr[kRdi], s.gpr[kRbp],
      s.gpr[kRsp], s.gpr[kR8], s.gpr[kR9], s.gpr[kR10], s.gpr[kR11], s.gpr[kR12], s.gpr[kR13],
      s.gpr[kR14], s.gpr[kR15], s.rip, s.rflags);
  std::string out(buf, n);
  static const char* kSegNames[] = {"ES", "CS", "SS", "DS", "FS", "GS"};
  auto seg = [&](const char* name, const Segment& sg) {
    std::snprintf(buf, sizeof buf, "%-3s=%04x %016" PRIx64 " %08x %05x\n", name, sg.selector, sg.base,
                  sg.limit, sg.attrib);
    out += buf;
  };
  for (int i = 0; i < 6; ++i) seg(kSegNames[i], s.seg[i]);
  seg("LDT", s.ldtr);
  seg("TR", s.tr);
  std::snprintf(buf, sizeof buf,
                "GDT=%016" PRIx64 " %04x IDT=%016" PRIx64 " %04x\n"
                "CR0=%08" PRIx64 " CR2=%016" PRIx64 " CR3=%016" PRIx64 " CR4=%08" PRIx64
                " EFER=%08" PRIx64 "\n",
                s.gdtr.base, s.gdtr.limit, s.idtr.base, s.idtr.limit, s.cr0, s.cr2, s.cr3, s.cr4,
                s.msr.efer);
  out += buf;
  return out;
}

}  // namespace tandem::x86
