// Flag instructions: CLC STC CMC CLD STD, LAHF/SAHF and PUSHF/POPF with the
// privilege rules of SDM vol. 2 "POPF": IF changes only when CPL <= IOPL,
// IOPL only at CPL 0, VM and RF are never set by POPF, VIP/VIF are kept.
// In v8086 mode at IOPL < 3 they #GP unless CR4.VME makes the 16-bit forms
// work on VIF instead of IF (SDM vol. 3A 20.3.2).
// (CLI/STI belong to ops_system.cc.)
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

constexpr uint64_t kLahfFlags = kFlagSf | kFlagZf | kFlagAf | kFlagPf | kFlagCf;

template <uint64_t kFlag, int kAction>  // 0 clear, 1 set, 2 complement
void FlagOp(Cpu& cpu, const DecodedInsn&) {
  if (kAction == 0) cpu.s.rflags &= ~kFlag;
  if (kFlag == x86::kFlagDf && kAction == 0 && cpu.planted_fault == PlantedFault::kCldSetsDf) [[unlikely]] {
    cpu.s.rflags |= kFlag;
  }
  if (kAction == 1) cpu.s.rflags |= kFlag;
  if (kAction == 2) cpu.s.rflags ^= kFlag;
}

void Lahf(Cpu& cpu, const DecodedInsn&) { cpu.WriteGpr(Cpu::kHighByteBase + 0, 1, (cpu.s.rflags & kLahfFlags) | 2); }

void Sahf(Cpu& cpu, const DecodedInsn&) {
  SetFlags(cpu.s, kLahfFlags, cpu.ReadGpr(Cpu::kHighByteBase + 0, 1));
}

bool Vm86(const CpuState& s) { return (s.cr0 & kCr0Pe) && (s.rflags & kFlagVm); }
uint64_t Iopl(const CpuState& s) { return (s.rflags & kFlagIopl) >> 12; }

// v8086 mode at IOPL < 3: only the 16-bit forms with CR4.VME run.
bool VirtualFlags(const CpuState& s, unsigned size) {
  if (!Vm86(s) || Iopl(s) == 3) return false;
  if (!(s.cr4 & kCr4Vme) || size != 2) Raise(kGP, 0);
  return true;
}

void Pushf(Cpu& cpu, const DecodedInsn& insn) {
  const CpuState& s = cpu.s;
  const unsigned size = insn.operand_size / 8;
  if (VirtualFlags(s, size)) [[unlikely]] {
    // The image shows VIF as IF and IOPL 3.
    const uint64_t f = (s.rflags & 0xFFFF & ~kFlagIf) | kFlagIopl | ((s.rflags & kFlagVif) ? kFlagIf : 0);
    cpu.Push(f, 2);
    return;
  }
  cpu.Push(s.rflags & ~(kFlagVm | kFlagRf) & SizeMask(size), size);
}

void Popf(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  const bool vm86 = Vm86(s);
  const unsigned size = insn.operand_size / 8;
  const bool virtual_flags = VirtualFlags(s, size);
  const unsigned ss = cpu.StackSize();
  const uint64_t sp = cpu.ReadGpr(kRsp, ss);
  const uint64_t v = cpu.ReadMem(kSs, sp, size);
  uint64_t changeable = kArithFlags | kFlagTf | kFlagDf | kFlagNt;
  if (virtual_flags) [[unlikely]] {
    // IF goes to VIF; enabling with a virtual interrupt pending, or TF, is
    // for the monitor (#GP). IOPL stays.
    if (((v & kFlagIf) && (s.rflags & kFlagVip)) || (v & kFlagTf)) Raise(kGP, 0);
    s.rflags = ((s.rflags & ~(changeable | kFlagVif)) | (v & changeable) | ((v & kFlagIf) ? kFlagVif : 0) | 2) &
               ~(kFlagRf | (1u << 3) | (1u << 5) | (1u << 15));
    cpu.WriteGpr(kRsp, ss, sp + size);
    return;
  }
  if (size >= 4) changeable |= kFlagAc | kFlagId;
  const bool real = !(s.cr0 & kCr0Pe);
  const int cpl = real ? 0 : cpu.cpl();
  if (real || vm86 || static_cast<uint64_t>(cpl) <= Iopl(s)) changeable |= kFlagIf;
  if (real || (!vm86 && cpl == 0)) changeable |= kFlagIopl;
  changeable &= SizeMask(size);
  s.rflags = ((s.rflags & ~changeable) | (v & changeable) | 2) & ~(kFlagRf | (1u << 3) | (1u << 5) | (1u << 15));
  cpu.WriteGpr(kRsp, ss, sp + size);
}

}  // namespace

void RegisterFlagHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_CLC] = FlagOp<kFlagCf, 0>;
  t[ZYDIS_MNEMONIC_STC] = FlagOp<kFlagCf, 1>;
  t[ZYDIS_MNEMONIC_CMC] = FlagOp<kFlagCf, 2>;
  t[ZYDIS_MNEMONIC_CLD] = FlagOp<kFlagDf, 0>;
  t[ZYDIS_MNEMONIC_STD] = FlagOp<kFlagDf, 1>;
  t[ZYDIS_MNEMONIC_LAHF] = Lahf;
  t[ZYDIS_MNEMONIC_SAHF] = Sahf;
  t[ZYDIS_MNEMONIC_PUSHF] = Pushf;
  t[ZYDIS_MNEMONIC_PUSHFD] = Pushf;
  t[ZYDIS_MNEMONIC_PUSHFQ] = Pushf;
  t[ZYDIS_MNEMONIC_POPF] = Popf;
  t[ZYDIS_MNEMONIC_POPFD] = Popf;
  t[ZYDIS_MNEMONIC_POPFQ] = Popf;
}

}  // namespace tandem::accel::interp
