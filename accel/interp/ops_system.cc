// System instructions (SDM vol. 2; control registers vol. 3A 2.5, MSRs vol. 4):
// MOV CRn/DRn, LGDT/LIDT/SGDT/SIDT, LLDT/SLDT/LTR/STR, LMSW/SMSW, CLTS,
// INVLPG, INVD/WBINVD, CPUID, RDTSC/RDTSCP, RDMSR/WRMSR, HLT, CLI/STI, UD*,
// LAR/LSL/VERR/VERW/ARPL, SWAPGS, SYSCALL/SYSRET, SYSENTER/SYSEXIT.
#include <cstdio>

#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

constexpr uint64_t kCr0Writable = kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts | kCr0Ne | kCr0Wp | kCr0Am | kCr0Nw |
                                  kCr0Cd | kCr0Pg;
// CR4 bits the CPUID model advertises.
constexpr uint64_t kCr4Writable = kCr4Vme | kCr4Pvi | kCr4Tsd | kCr4De | kCr4Pse | kCr4Pae | kCr4Mce | kCr4Pge |
                                  kCr4Pce | kCr4Osfxsr | kCr4Osxmmexcpt;
constexpr uint64_t kPhysAddrMask = (1ull << 40) - 1;

void RequireCpl0(Cpu& cpu) {
  if (cpu.cpl() != 0) Raise(kGP, 0);
}
void RequireProtected(Cpu& cpu) {
  if (RealMode(cpu.s) || V86Mode(cpu.s)) Raise(kUD);
}

uint64_t AddressMask(const DecodedInsn& insn) {
  return insn.address_size == 64 ? ~0ull : (1ull << insn.address_size) - 1;
}

// ---- control and debug registers ----

void WriteCr0(Cpu& cpu, uint64_t v) {
  CpuState& s = cpu.s;
  if (v >> 32) Raise(kGP, 0);
  v = (v & kCr0Writable) | kCr0Et;
  if ((v & kCr0Pg) && !(v & kCr0Pe)) Raise(kGP, 0);
  if ((v & kCr0Nw) && !(v & kCr0Cd)) Raise(kGP, 0);
  const uint64_t old = s.cr0;
  if ((v & kCr0Pg) && !(old & kCr0Pg) && (s.msr.efer & kEferLme)) {
    if (!(s.cr4 & kCr4Pae) || s.seg[kCs].l()) Raise(kGP, 0);
    s.msr.efer |= kEferLma;
  }
  if (!(v & kCr0Pg) && (old & kCr0Pg) && (s.msr.efer & kEferLma)) {
    if (Mode64(s)) Raise(kGP, 0);
    s.msr.efer &= ~kEferLma;
  }
  s.cr0 = v;
  if ((old ^ v) & (kCr0Pg | kCr0Wp | kCr0Pe)) cpu.FlushTlb(true);
}

void WriteCr4(Cpu& cpu, uint64_t v) {
  CpuState& s = cpu.s;
  if (v & ~kCr4Writable) Raise(kGP, 0);
  if ((s.msr.efer & kEferLma) && !(v & kCr4Pae)) Raise(kGP, 0);
  const uint64_t old = s.cr4;
  s.cr4 = v;
  if ((old ^ v) & (kCr4Pse | kCr4Pae | kCr4Pge)) cpu.FlushTlb(true);
  if ((old ^ v) & kCr4De) UpdateDebugState(cpu);  // arms or disarms I/O breakpoints
}

void WriteCr(Cpu& cpu, int n, uint64_t v) {
  CpuState& s = cpu.s;
  switch (n) {
    case 0: WriteCr0(cpu, v); break;
    case 2: s.cr2 = v; break;
    case 3:
      if (v & ~kPhysAddrMask) Raise(kGP, 0);
      s.cr3 = v;
      cpu.FlushTlb(false);
      break;
    case 4: WriteCr4(cpu, v); break;
    case 8:
      if (v & ~0xFull) Raise(kGP, 0);
      s.cr8 = v;
      // CR8 is an alias of the local APIC's TPR[7:4] (SDM vol. 3A 10.8.6.1).
      cpu.socket.set_tpr(static_cast<uint8_t>(v << 4));
      break;
    default: Raise(kUD);
  }
}

uint64_t ReadCr(Cpu& cpu, int n) {
  const CpuState& s = cpu.s;
  switch (n) {
    case 0: return s.cr0;
    case 2: return s.cr2;
    case 3: return s.cr3;
    case 4: return s.cr4;
    case 8: return cpu.socket.tpr() >> 4;
    default: Raise(kUD);
  }
}

int DebugRegister(Cpu& cpu, int n) {
  if (n == 4 || n == 5) {
    if (cpu.s.cr4 & kCr4De) Raise(kUD);
    return n + 2;
  }
  if (n > 7) Raise(kUD);
  return n;
}

// ---- descriptor tables ----

void LoadTableRegister(Cpu& cpu, const DecodedInsn& insn, TableRegister* t) {
  RequireCpl0(cpu);
  const Operand& op = insn.op[0];
  if (op.kind != OperandKind::kMem) Raise(kUD);
  uint64_t ea = cpu.EffectiveAddress(insn, 0);
  auto limit = static_cast<uint16_t>(cpu.ReadMem(op.seg, ea, 2));
  uint64_t at = (ea + 2) & AddressMask(insn);
  uint64_t base;
  if (Mode64(cpu.s)) {
    base = cpu.ReadMem(op.seg, at, 8);
    if (!IsCanonical(base)) Raise(kGP, 0);
  } else {
    base = cpu.ReadMem(op.seg, at, 4) & (insn.operand_size == 16 ? 0xFFFFFF : 0xFFFFFFFF);
  }
  t->base = base;
  t->limit = limit;
}

void StoreTableRegister(Cpu& cpu, const DecodedInsn& insn, const TableRegister& t) {
  const Operand& op = insn.op[0];
  if (op.kind != OperandKind::kMem) Raise(kUD);
  uint64_t ea = cpu.EffectiveAddress(insn, 0);
  uint64_t at = (ea + 2) & AddressMask(insn);
  bool wide = Mode64(cpu.s);
  // Both parts are checked before either is written.
  cpu.Linearize(op.seg, at, wide ? 8 : 4, Access::kWrite);
  cpu.WriteMem(op.seg, ea, 2, t.limit);
  cpu.WriteMem(op.seg, at, wide ? 8 : 4, insn.operand_size == 16 ? t.base & 0xFFFFFF : t.base);
}

void Lgdt(Cpu& cpu, const DecodedInsn& insn) { LoadTableRegister(cpu, insn, &cpu.s.gdtr); }
void Lidt(Cpu& cpu, const DecodedInsn& insn) { LoadTableRegister(cpu, insn, &cpu.s.idtr); }
void Sgdt(Cpu& cpu, const DecodedInsn& insn) { StoreTableRegister(cpu, insn, cpu.s.gdtr); }
void Sidt(Cpu& cpu, const DecodedInsn& insn) { StoreTableRegister(cpu, insn, cpu.s.idtr); }

// The GDT descriptor for LLDT/LTR: 16 bytes in long mode.
uint64_t ReadSystemDescriptor(Cpu& cpu, uint16_t sel, uint64_t* hi) {
  if (sel & 4) Raise(kGP, sel & 0xFFFC);
  uint64_t d = ReadDescriptor(cpu, sel);
  *hi = 0;
  if (LongMode(cpu.s)) {
    if ((sel & ~7u) + 15ull > cpu.s.gdtr.limit) Raise(kGP, sel & 0xFFFC);
    *hi = cpu.ReadLinearSystem(DescriptorAddress(cpu, sel) + 8, 8);
  }
  return d;
}

void Lldt(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  RequireCpl0(cpu);
  auto sel = static_cast<uint16_t>(cpu.ReadOperand(insn, 0));
  if ((sel & 0xFFFC) == 0) {
    cpu.s.ldtr = Segment{sel, 0, 0, Segment::kUnusable};
    return;
  }
  uint64_t hi;
  uint64_t d = ReadSystemDescriptor(cpu, sel, &hi);
  if (DescS(d) || DescType(d) != 2) Raise(kGP, sel & 0xFFFC);
  if (!DescPresent(d)) Raise(kNP, sel & 0xFFFC);
  Segment ldt = SegmentFromDescriptor(sel, d, hi);
  if (LongMode(cpu.s) && !IsCanonical(ldt.base)) Raise(kGP, sel & 0xFFFC);
  cpu.s.ldtr = ldt;
}

void Ltr(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  RequireCpl0(cpu);
  auto sel = static_cast<uint16_t>(cpu.ReadOperand(insn, 0));
  if ((sel & 0xFFFC) == 0) Raise(kGP, 0);
  uint64_t hi;
  uint64_t d = ReadSystemDescriptor(cpu, sel, &hi);
  bool available = DescType(d) == 9 || (DescType(d) == 1 && !LongMode(cpu.s));
  if (DescS(d) || !available) Raise(kGP, sel & 0xFFFC);
  if (!DescPresent(d)) Raise(kNP, sel & 0xFFFC);
  Segment tss = SegmentFromDescriptor(sel, d | (2ull << 40), hi);
  if (LongMode(cpu.s) && !IsCanonical(tss.base)) Raise(kGP, sel & 0xFFFC);
  cpu.WriteLinearSystem(DescriptorAddress(cpu, sel) + 5, 1, ((d >> 40) & 0xFF) | 2);  // busy
  cpu.s.tr = tss;
}

void Sldt(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  cpu.WriteOperand(insn, 0, cpu.s.ldtr.selector);
}
void Str(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  cpu.WriteOperand(insn, 0, cpu.s.tr.selector);
}

void Lmsw(Cpu& cpu, const DecodedInsn& insn) {
  RequireCpl0(cpu);
  uint64_t v = cpu.ReadOperand(insn, 0) & 0xF;
  // LMSW sets PE but never clears it.
  WriteCr0(cpu, (cpu.s.cr0 & ~0xEull) | v | (cpu.s.cr0 & kCr0Pe));
}

void Smsw(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = insn.op[0].kind == OperandKind::kMem ? cpu.s.cr0 & 0xFFFF : cpu.s.cr0;
  cpu.WriteOperand(insn, 0, v);
}

void Clts(Cpu& cpu, const DecodedInsn&) {
  RequireCpl0(cpu);
  cpu.s.cr0 &= ~kCr0Ts;
}

void Invlpg(Cpu& cpu, const DecodedInsn& insn) {
  RequireCpl0(cpu);
  const Operand& op = insn.op[0];
  if (op.kind != OperandKind::kMem) Raise(kUD);
  uint64_t ea = cpu.EffectiveAddress(insn, 0);
  const Segment& seg = cpu.s.seg[op.seg];
  uint64_t linear = Mode64(cpu.s) ? ea + (op.seg >= kFs ? seg.base : 0) : (seg.base + ea) & 0xFFFFFFFF;
  cpu.InvalidatePage(linear);
}

void CacheFlush(Cpu& cpu, const DecodedInsn&) { RequireCpl0(cpu); }  // INVD, WBINVD: no caches to flush

// ---- identification and time ----

void Cpuid(Cpu& cpu, const DecodedInsn&) {
  uint32_t function = static_cast<uint32_t>(cpu.s.gpr[kRax]);
  CpuidResult r = cpu.board.cpuid().QueryForCpu(function, static_cast<uint32_t>(cpu.s.gpr[kRcx]), cpu.socket.apic_id());
  // Leaf 1 EDX.APIC follows IA32_APIC_BASE's global enable (SDM vol. 3A, 11.4.3).
  if (function == 1 && !(cpu.s.msr.apic_base & hw::LocalApic::kBaseEnable)) r.edx &= ~cpuid_bits::kEdxApic;
  cpu.WriteGpr(kRax, 4, r.eax);
  cpu.WriteGpr(kRbx, 4, r.ebx);
  cpu.WriteGpr(kRcx, 4, r.ecx);
  cpu.WriteGpr(kRdx, 4, r.edx);
}

// The TSC runs at 1 GHz from CpuState::tsc, counted from the first use.
uint64_t ReadTsc(Cpu& cpu) {
  uint64_t now = cpu.board.clock().NowNs();
  if (!cpu.sys_.tsc_epoch_set) {
    cpu.sys_.tsc_epoch_ns = now;
    cpu.sys_.tsc_epoch_set = true;
  }
  return cpu.s.tsc + (now - cpu.sys_.tsc_epoch_ns);
}

void WriteTsc(Cpu& cpu, uint64_t value) {
  cpu.sys_.tsc_epoch_ns = cpu.board.clock().NowNs();
  cpu.sys_.tsc_epoch_set = true;
  cpu.s.tsc = value;
}

void Rdtsc(Cpu& cpu, const DecodedInsn&) {
  if ((cpu.s.cr4 & kCr4Tsd) && cpu.cpl() != 0) Raise(kGP, 0);
  uint64_t tsc = ReadTsc(cpu);
  cpu.WriteGpr(kRax, 4, tsc & 0xFFFFFFFF);
  cpu.WriteGpr(kRdx, 4, tsc >> 32);
}

void Rdtscp(Cpu& cpu, const DecodedInsn& insn) {
  Rdtsc(cpu, insn);
  cpu.WriteGpr(kRcx, 4, cpu.s.msr.tsc_aux & 0xFFFFFFFF);
}

// Whether the CPUID model (the host's vendor) is AMD, for behaviour where the vendors differ.
bool AmdVendor(const Cpu& cpu) { return cpu.board.cpuid().vendor() == "AuthenticAMD"; }

// RDPMC (SDM vol. 2B): tandem counts nothing; only AMD's four legacy counters exist, reading 0.
void Rdpmc(Cpu& cpu, const DecodedInsn&) {
  if (cpu.cpl() != 0 && !RealMode(cpu.s) && !(cpu.s.cr4 & kCr4Pce)) Raise(kGP, 0);
  if (!AmdVendor(cpu) || (cpu.s.gpr[kRcx] & 0xFFFFFFFF) >= 4) Raise(kGP, 0);
  cpu.WriteGpr(kRax, 4, 0);
  cpu.WriteGpr(kRdx, 4, 0);
}

// ---- MSRs (SDM vol. 4) ----

enum : uint32_t {
  kMsrTsc = 0x10, kMsrPlatformId = 0x17, kMsrApicBase = 0x1B, kMsrBiosSignId = 0x8B, kMsrMtrrCap = 0xFE,
  kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176, kMsrMcgCap = 0x179,
  kMsrMcgStatus = 0x17A, kMsrMiscEnable = 0x1A0, kMsrMtrrVarBase = 0x200, kMsrMtrrFix64K = 0x250,
  kMsrMtrrFix16K80 = 0x258, kMsrMtrrFix16KA0 = 0x259, kMsrMtrrFix4KC0 = 0x268, kMsrMtrrFix4KF8 = 0x26F,
  kMsrPat = 0x277, kMsrMtrrDefType = 0x2FF, kMsrEfer = 0xC0000080, kMsrStar = 0xC0000081,
  kMsrLstar = 0xC0000082, kMsrCstar = 0xC0000083, kMsrSfmask = 0xC0000084, kMsrFsBase = 0xC0000100,
  kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102, kMsrTscAux = 0xC0000103,
  kMsrK7EvntSel0 = 0xC0010000, kMsrK7PerfCtr3 = 0xC0010007, kMsrAmdDeCfg = 0xC0011029,
};

// AMD's legacy performance counters (APM vol. 2, 13.2.1) exist on every AMD
// CPU without a CPUID bit; tandem has no PMU, so they read 0 and ignore writes.
// DE_CFG (Linux reads it at boot for LFENCE serialisation) behaves the same.
bool IsAmdLegacyPerfMsr(const Cpu& cpu, uint32_t msr) {
  return ((msr >= kMsrK7EvntSel0 && msr <= kMsrK7PerfCtr3) || msr == kMsrAmdDeCfg) && AmdVendor(cpu);
}

// The slot of a fixed-range MTRR, or nullptr.
uint64_t* FixedMtrr(CpuState& s, uint32_t msr) {
  if (msr == kMsrMtrrFix64K) return &s.msr.mtrr_fixed[0];
  if (msr == kMsrMtrrFix16K80) return &s.msr.mtrr_fixed[1];
  if (msr == kMsrMtrrFix16KA0) return &s.msr.mtrr_fixed[2];
  if (msr >= kMsrMtrrFix4KC0 && msr <= kMsrMtrrFix4KF8) return &s.msr.mtrr_fixed[3 + msr - kMsrMtrrFix4KC0];
  return nullptr;
}

[[noreturn]] void UnknownMsr(Cpu& cpu, uint32_t msr, const char* what) {
  char key[32];
  std::snprintf(key, sizeof key, "msr-%x", msr);
  LogOnce(cpu, key, "%s of unknown MSR 0x%x: #GP", what, msr);
  Raise(kGP, 0);
}

uint64_t ReadMsr(Cpu& cpu, uint32_t msr) {
  CpuState& s = cpu.s;
  switch (msr) {
    case kMsrTsc: return ReadTsc(cpu);
    case kMsrPlatformId: case kMsrBiosSignId: case kMsrMcgCap: case kMsrMcgStatus: return 0;
    case kMsrApicBase: return s.msr.apic_base;
    case kMsrMtrrCap: return 0x508;  // 8 variable ranges, fixed ranges, write-combining
    case kMsrSysenterCs: return s.msr.sysenter_cs;
    case kMsrSysenterEsp: return s.msr.sysenter_esp;
    case kMsrSysenterEip: return s.msr.sysenter_eip;
    case kMsrMiscEnable: return s.msr.misc_enable;
    case kMsrPat: return s.msr.pat;
    case kMsrMtrrDefType: return s.msr.mtrr_def_type;
    case kMsrEfer: return s.msr.efer;
    case kMsrStar: return s.msr.star;
    case kMsrLstar: return s.msr.lstar;
    case kMsrCstar: return s.msr.cstar;
    case kMsrSfmask: return s.msr.sfmask;
    case kMsrFsBase: return s.seg[kFs].base;
    case kMsrGsBase: return s.seg[kGs].base;
    case kMsrKernelGsBase: return s.msr.kernel_gs_base;
    case kMsrTscAux: return s.msr.tsc_aux;
  }
  if (msr >= kMsrMtrrVarBase && msr < kMsrMtrrVarBase + 16) return s.msr.mtrr_var[msr - kMsrMtrrVarBase];
  if (uint64_t* fixed = FixedMtrr(s, msr)) return *fixed;
  if (IsAmdLegacyPerfMsr(cpu, msr)) return 0;
  UnknownMsr(cpu, msr, "RDMSR");
}

void WriteMsr(Cpu& cpu, uint32_t msr, uint64_t v) {
  CpuState& s = cpu.s;
  auto canonical = [](uint64_t a) {
    if (!IsCanonical(a)) Raise(kGP, 0);
    return a;
  };
  switch (msr) {
    case kMsrTsc: WriteTsc(cpu, v); return;
    case kMsrBiosSignId: case kMsrPlatformId: return;  // microcode updates: ignored
    case kMsrMcgStatus:
      if (v) Raise(kGP, 0);
      return;
    case kMsrApicBase:
      if (v & ~(0xFFFFFFF000ull | (1 << 8) | (1 << 11))) Raise(kGP, 0);
      s.msr.apic_base = v;
      cpu.socket.SetApicBase(v);
      return;
    case kMsrSysenterCs: s.msr.sysenter_cs = v & 0xFFFF; return;
    case kMsrSysenterEsp: s.msr.sysenter_esp = canonical(v); return;
    case kMsrSysenterEip: s.msr.sysenter_eip = canonical(v); return;
    case kMsrMiscEnable: s.msr.misc_enable = v; return;
    case kMsrPat:
      for (int i = 0; i < 8; ++i) {
        unsigned type = (v >> (8 * i)) & 0xFF;
        if (type == 2 || type == 3 || type > 7) Raise(kGP, 0);
      }
      s.msr.pat = v;
      return;
    case kMsrMtrrDefType:
      if (v & ~0xCFFull) Raise(kGP, 0);
      s.msr.mtrr_def_type = v;
      return;
    case kMsrEfer: {
      if (v & ~(kEferSce | kEferLme | kEferLma | kEferNxe)) Raise(kGP, 0);
      if ((s.cr0 & kCr0Pg) && ((v ^ s.msr.efer) & kEferLme)) Raise(kGP, 0);
      uint64_t nv = (v & ~kEferLma) | (s.msr.efer & kEferLma);  // LMA is read-only
      if ((nv ^ s.msr.efer) & kEferNxe) cpu.FlushTlb(true);
      s.msr.efer = nv;
      return;
    }
    case kMsrStar: s.msr.star = v; return;
    case kMsrLstar: s.msr.lstar = canonical(v); return;
    case kMsrCstar: s.msr.cstar = canonical(v); return;
    case kMsrSfmask: s.msr.sfmask = v & 0xFFFFFFFF; return;
    case kMsrFsBase: s.seg[kFs].base = canonical(v); return;
    case kMsrGsBase: s.seg[kGs].base = canonical(v); return;
    case kMsrKernelGsBase: s.msr.kernel_gs_base = canonical(v); return;
    case kMsrTscAux: s.msr.tsc_aux = v & 0xFFFFFFFF; return;
    case kMsrMtrrCap: case kMsrMcgCap: Raise(kGP, 0);
  }
  if (msr >= kMsrMtrrVarBase && msr < kMsrMtrrVarBase + 16) {
    s.msr.mtrr_var[msr - kMsrMtrrVarBase] = v;
    return;
  }
  if (uint64_t* fixed = FixedMtrr(s, msr)) {
    *fixed = v;
    return;
  }
  if (IsAmdLegacyPerfMsr(cpu, msr)) return;
  UnknownMsr(cpu, msr, "WRMSR");
}

void Rdmsr(Cpu& cpu, const DecodedInsn&) {
  RequireCpl0(cpu);
  uint64_t v = ReadMsr(cpu, static_cast<uint32_t>(cpu.s.gpr[kRcx]));
  cpu.WriteGpr(kRax, 4, v & 0xFFFFFFFF);
  cpu.WriteGpr(kRdx, 4, v >> 32);
}

void Wrmsr(Cpu& cpu, const DecodedInsn&) {
  RequireCpl0(cpu);
  uint64_t v = (cpu.s.gpr[kRdx] << 32) | (cpu.s.gpr[kRax] & 0xFFFFFFFF);
  WriteMsr(cpu, static_cast<uint32_t>(cpu.s.gpr[kRcx]), v);
}

// ---- interrupts flag, halt, undefined ----

// The flag CLI and STI change: IF when IOPL allows it, else VIF in v8086
// mode with CR4.VME and at CPL 3 with CR4.PVI (SDM vol. 3A 20.3.2, 20.4;
// vol. 2 CLI, STI), else #GP(0).
uint64_t InterruptFlagFor(Cpu& cpu) {
  const CpuState& s = cpu.s;
  if (RealMode(s)) return kFlagIf;
  if (V86Mode(s)) {
    if (Iopl(s) == 3) return kFlagIf;
    if (s.cr4 & kCr4Vme) return kFlagVif;
  } else {
    const int cpl = cpu.cpl();
    if (cpl <= Iopl(s)) return kFlagIf;
    if (cpl == 3 && (s.cr4 & kCr4Pvi)) return kFlagVif;
  }
  Raise(kGP, 0);
}

void Cli(Cpu& cpu, const DecodedInsn&) { cpu.s.rflags &= ~InterruptFlagFor(cpu); }

void Sti(Cpu& cpu, const DecodedInsn&) {
  const uint64_t flag = InterruptFlagFor(cpu);
  if (flag == kFlagVif) {
    // A virtual interrupt is pending: the monitor delivers it (#GP).
    if (cpu.s.rflags & kFlagVip) Raise(kGP, 0);
  } else if (!(cpu.s.rflags & kFlagIf)) {
    cpu.s.interrupt_shadow = true;
  }
  cpu.s.rflags |= flag;
}

void Hlt(Cpu& cpu, const DecodedInsn&) {
  RequireCpl0(cpu);
  cpu.s.halted = true;
}

void Undefined(Cpu&, const DecodedInsn&) { Raise(kUD); }

// ---- LAR, LSL, VERR, VERW ----

void SetZf(CpuState& s, bool z) { s.rflags = z ? s.rflags | kFlagZf : s.rflags & ~kFlagZf; }

// The descriptor for sel when the table holds it, without faulting on limits.
bool PeekDescriptor(Cpu& cpu, uint16_t sel, uint64_t* d) {
  const CpuState& s = cpu.s;
  if ((sel & 0xFFFC) == 0) return false;
  uint64_t limit = (sel & 4) ? ((s.ldtr.selector & 0xFFFC) == 0 || s.ldtr.unusable() ? 0 : s.ldtr.limit)
                             : s.gdtr.limit;
  if ((sel & 4) && limit == 0) return false;
  if ((sel & ~7u) + 7ull > limit) return false;
  *d = cpu.ReadLinearSystem(DescriptorAddress(cpu, sel), 8);
  return true;
}

// Privilege check shared by LAR/LSL/VERR/VERW: conforming code skips it.
bool Visible(Cpu& cpu, uint16_t sel, uint64_t d) {
  if (DescConforming(d)) return true;
  return DescDpl(d) >= cpu.cpl() && DescDpl(d) >= (sel & 3);
}

bool SystemTypeOk(const CpuState& s, uint64_t d, bool gates) {
  uint32_t t = DescType(d);
  if (LongMode(s)) return t == 2 || t == 9 || t == 0xB || (gates && t == 0xC);
  if (t == 1 || t == 2 || t == 3 || t == 9 || t == 0xB) return true;
  return gates && (t == 4 || t == 5 || t == 0xC);
}

void LarLsl(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  auto sel = static_cast<uint16_t>(cpu.ReadOperand(insn, 1));
  const bool lar = insn.mnemonic == ZYDIS_MNEMONIC_LAR;
  uint64_t d;
  bool ok = PeekDescriptor(cpu, sel, &d) && (DescS(d) || SystemTypeOk(cpu.s, d, lar)) && Visible(cpu, sel, d);
  SetZf(cpu.s, ok);
  if (!ok) return;
  if (lar) {
    cpu.WriteOperand(insn, 0, (d >> 32) & 0x00F0FF00);
  } else {
    cpu.WriteOperand(insn, 0, SegmentFromDescriptor(sel, d).limit);
  }
}

// ARPL r/m16, r16: raises the destination selector's RPL to the source's
// (SDM vol. 2 ARPL; outside 64-bit mode, where 63h is MOVSXD).
void Arpl(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  const uint64_t dst = cpu.ReadOperand(insn, 0);
  const uint64_t src = cpu.ReadOperand(insn, 1);
  const bool raise = (dst & 3) < (src & 3);
  if (raise) cpu.WriteOperand(insn, 0, (dst & ~3ull) | (src & 3));
  SetZf(cpu.s, raise);
}

void VerrVerw(Cpu& cpu, const DecodedInsn& insn) {
  RequireProtected(cpu);
  auto sel = static_cast<uint16_t>(cpu.ReadOperand(insn, 0));
  uint64_t d;
  bool ok = PeekDescriptor(cpu, sel, &d) && DescS(d) && Visible(cpu, sel, d);
  if (ok) {
    if (insn.mnemonic == ZYDIS_MNEMONIC_VERR) {
      ok = !DescIsCode(d) || (DescType(d) & 2);
    } else {
      ok = !DescIsCode(d) && (DescType(d) & 2);
    }
  }
  SetZf(cpu.s, ok);
}

// ---- fast system calls (SDM vol. 2 SYSCALL, SYSRET, SYSENTER, SYSEXIT) ----

Segment FlatSegment(uint16_t selector, bool code, int dpl, uint32_t size_bits) {
  return Segment{selector, 0, 0xFFFFFFFF,
                 (code ? 0xBu : 0x3u) | Segment::kS | Segment::kP | Segment::kG | size_bits |
                     (static_cast<uint32_t>(dpl) << Segment::kDplShift)};
}

void Swapgs(Cpu& cpu, const DecodedInsn&) {
  if (!Mode64(cpu.s)) Raise(kUD);
  RequireCpl0(cpu);
  std::swap(cpu.s.seg[kGs].base, cpu.s.msr.kernel_gs_base);
}

void Syscall(Cpu& cpu, const DecodedInsn&) {
  CpuState& s = cpu.s;
  // AMD also takes SYSCALL from compatibility mode, entering at CSTAR (APM vol. 3, SYSCALL); Intel raises #UD.
  const bool compat = LongMode(s) && !Mode64(s);
  if (!LongMode(s) || !(s.msr.efer & kEferSce) || (compat && !AmdVendor(cpu))) Raise(kUD);
  auto sel = static_cast<uint16_t>((s.msr.star >> 32) & 0xFFFC);
  s.gpr[kRcx] = cpu.next_rip;
  s.gpr[kR11] = s.rflags & ~kFlagRf;
  s.seg[kCs] = FlatSegment(sel, true, 0, Segment::kL);
  s.seg[kSs] = FlatSegment(static_cast<uint16_t>(sel + 8), false, 0, Segment::kDb);
  s.rflags = (s.rflags & ~(s.msr.sfmask | kFlagRf)) | 2;
  cpu.next_rip = compat ? s.msr.cstar : s.msr.lstar;
  cpu.step_on_new_tf = true;
}

void Sysret(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  if (!Mode64(s) || !(s.msr.efer & kEferSce)) Raise(kUD);
  RequireCpl0(cpu);
  const bool to64 = insn.operand_size == 64;
  auto base = static_cast<uint16_t>(s.msr.star >> 48);
  if (to64 && !IsCanonical(s.gpr[kRcx])) Raise(kGP, 0);
  if (to64) {
    s.seg[kCs] = FlatSegment(static_cast<uint16_t>((base + 16) | 3), true, 3, Segment::kL);
    cpu.next_rip = s.gpr[kRcx];
  } else {
    s.seg[kCs] = FlatSegment(static_cast<uint16_t>(base | 3), true, 3, Segment::kDb);
    cpu.next_rip = s.gpr[kRcx] & 0xFFFFFFFF;
  }
  s.seg[kSs] = FlatSegment(static_cast<uint16_t>((base + 8) | 3), false, 3, Segment::kDb);
  s.rflags = (s.gpr[kR11] & 0x3C7FD7) | 2;
  cpu.step_on_new_tf = true;
}

// AMD processors do not recognise SYSENTER and SYSEXIT in long mode (APM
// vol. 3); the behaviour follows the vendor the CPUID model reports.
bool AmdInLongMode(const Cpu& cpu) {
  return LongMode(cpu.s) && cpu.board.cpuid().vendor() == "AuthenticAMD";
}

void Sysenter(Cpu& cpu, const DecodedInsn&) {
  CpuState& s = cpu.s;
  if (AmdInLongMode(cpu)) Raise(kUD);
  if (RealMode(s)) Raise(kGP, 0);
  auto sel = static_cast<uint16_t>(s.msr.sysenter_cs & 0xFFFC);
  if (sel == 0) Raise(kGP, 0);
  const bool lm = LongMode(s);
  s.seg[kCs] = FlatSegment(sel, true, 0, lm ? Segment::kL : Segment::kDb);
  s.seg[kSs] = FlatSegment(static_cast<uint16_t>(sel + 8), false, 0, Segment::kDb);
  s.rflags &= ~(kFlagVm | kFlagIf | kFlagRf);
  s.gpr[kRsp] = lm ? s.msr.sysenter_esp : s.msr.sysenter_esp & 0xFFFFFFFF;
  cpu.next_rip = lm ? s.msr.sysenter_eip : s.msr.sysenter_eip & 0xFFFFFFFF;
}

void Sysexit(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  if (AmdInLongMode(cpu)) Raise(kUD);
  if (RealMode(s) || V86Mode(s)) Raise(kGP, 0);
  RequireCpl0(cpu);
  auto sel = static_cast<uint16_t>(s.msr.sysenter_cs & 0xFFFC);
  if (sel == 0) Raise(kGP, 0);
  const bool to64 = insn.operand_size == 64;
  s.seg[kCs] = FlatSegment(static_cast<uint16_t>((sel + (to64 ? 32 : 16)) | 3), true, 3,
                           to64 ? Segment::kL : Segment::kDb);
  s.seg[kSs] = FlatSegment(static_cast<uint16_t>((sel + (to64 ? 40 : 24)) | 3), false, 3, Segment::kDb);
  s.gpr[kRsp] = to64 ? s.gpr[kRcx] : s.gpr[kRcx] & 0xFFFFFFFF;
  cpu.next_rip = to64 ? s.gpr[kRdx] : s.gpr[kRdx] & 0xFFFFFFFF;
}

}  // namespace

void MovCrDr(Cpu& cpu, const DecodedInsn& insn) {
  RequireCpl0(cpu);
  const Operand& dst = insn.op[0];
  const Operand& src = insn.op[1];
  if (dst.kind == OperandKind::kReg && (dst.reg_class == RegClass::kCr || dst.reg_class == RegClass::kDr)) {
    uint64_t v = cpu.ReadOperand(insn, 1);
    if (!Mode64(cpu.s)) v &= 0xFFFFFFFF;
    if (dst.reg_class == RegClass::kCr) {
      WriteCr(cpu, dst.reg, v);
    } else {
      int n = DebugRegister(cpu, dst.reg);
      if (cpu.s.dr[7] & kDr7Gd) RaiseGeneralDetect(cpu);
      if (n >= 6 && (v >> 32)) Raise(kGP, 0);
      cpu.s.dr[n] = n == 6 ? (v | 0xFFFF0FF0) : n == 7 ? (v | 0x400) : v;
      UpdateDebugState(cpu);
    }
    return;
  }
  if (src.reg_class == RegClass::kDr) {
    int n = DebugRegister(cpu, src.reg);
    if (cpu.s.dr[7] & kDr7Gd) RaiseGeneralDetect(cpu);
    cpu.WriteOperand(insn, 0, cpu.s.dr[n]);
    return;
  }
  uint64_t v = ReadCr(cpu, src.reg);
  cpu.WriteOperand(insn, 0, v);
}

void RegisterSystemHandlers(HandlerTable& table) {
  table[ZYDIS_MNEMONIC_LGDT] = Lgdt;
  table[ZYDIS_MNEMONIC_LIDT] = Lidt;
  table[ZYDIS_MNEMONIC_SGDT] = Sgdt;
  table[ZYDIS_MNEMONIC_SIDT] = Sidt;
  table[ZYDIS_MNEMONIC_LLDT] = Lldt;
  table[ZYDIS_MNEMONIC_SLDT] = Sldt;
  table[ZYDIS_MNEMONIC_LTR] = Ltr;
  table[ZYDIS_MNEMONIC_STR] = Str;
  table[ZYDIS_MNEMONIC_LMSW] = Lmsw;
  table[ZYDIS_MNEMONIC_SMSW] = Smsw;
  table[ZYDIS_MNEMONIC_CLTS] = Clts;
  table[ZYDIS_MNEMONIC_INVLPG] = Invlpg;
  table[ZYDIS_MNEMONIC_INVD] = CacheFlush;
  table[ZYDIS_MNEMONIC_WBINVD] = CacheFlush;
  table[ZYDIS_MNEMONIC_CPUID] = Cpuid;
  table[ZYDIS_MNEMONIC_RDTSC] = Rdtsc;
  table[ZYDIS_MNEMONIC_RDTSCP] = Rdtscp;
  table[ZYDIS_MNEMONIC_RDPMC] = Rdpmc;
  table[ZYDIS_MNEMONIC_RDMSR] = Rdmsr;
  table[ZYDIS_MNEMONIC_WRMSR] = Wrmsr;
  table[ZYDIS_MNEMONIC_HLT] = Hlt;
  table[ZYDIS_MNEMONIC_CLI] = Cli;
  table[ZYDIS_MNEMONIC_STI] = Sti;
  table[ZYDIS_MNEMONIC_UD0] = Undefined;
  table[ZYDIS_MNEMONIC_UD1] = Undefined;
  table[ZYDIS_MNEMONIC_UD2] = Undefined;
  table[ZYDIS_MNEMONIC_LAR] = LarLsl;
  table[ZYDIS_MNEMONIC_LSL] = LarLsl;
  table[ZYDIS_MNEMONIC_VERR] = VerrVerw;
  table[ZYDIS_MNEMONIC_ARPL] = Arpl;
  table[ZYDIS_MNEMONIC_VERW] = VerrVerw;
  table[ZYDIS_MNEMONIC_SWAPGS] = Swapgs;
  table[ZYDIS_MNEMONIC_SYSCALL] = Syscall;
  table[ZYDIS_MNEMONIC_SYSRET] = Sysret;
  table[ZYDIS_MNEMONIC_SYSENTER] = Sysenter;
  table[ZYDIS_MNEMONIC_SYSEXIT] = Sysexit;
}

}  // namespace tandem::accel::interp
