// x87/SSE state management: FNINIT, FNCLEX, FNSTSW, FNSTCW, FLDCW, FWAIT,
// EMMS, FXSAVE/FXRSTOR (SDM vol. 1 table 10-2, the layout x86::FxState
// already has) and LDMXCSR/STMXCSR. x87 arithmetic (and FILD) is in
// ops_x87.cc, SSE in ops_sse*.cc.
// CR0.EM/TS give #NM (x87) or #UD/#NM (SSE) as SDM vol. 3A 2.5 describes.
#include <array>
#include <cstring>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

void CheckX87(const Cpu& cpu) {
  if (cpu.s.cr0 & (kCr0Em | kCr0Ts)) Raise(kNM);
}

void CheckSse(const Cpu& cpu) {
  if ((cpu.s.cr0 & kCr0Em) || !(cpu.s.cr4 & kCr4Osfxsr)) Raise(kUD);
  if (cpu.s.cr0 & kCr0Ts) Raise(kNM);
}

void Fninit(Cpu& cpu, const DecodedInsn&) {
  CheckX87(cpu);
  FxState& fx = cpu.s.fx;
  fx.fcw = 0x37F;
  fx.fsw = 0;
  fx.ftw = 0;
  fx.fop = 0;
  fx.fip = 0;
  fx.fdp = 0;
}

void Fnclex(Cpu& cpu, const DecodedInsn&) {
  CheckX87(cpu);
  cpu.s.fx.fsw &= 0x7F00;
}

void Fnstsw(Cpu& cpu, const DecodedInsn& insn) {
  CheckX87(cpu);
  cpu.WriteOperand(insn, 0, cpu.s.fx.fsw);
}

void Fnstcw(Cpu& cpu, const DecodedInsn& insn) {
  CheckX87(cpu);
  cpu.WriteOperand(insn, 0, cpu.s.fx.fcw);
}

// A pending unmasked x87 exception (FSW.ES) is reported by the next waiting
// instruction as #MF when CR0.NE=1 (FERR# is not modelled).
void CheckPendingX87(const Cpu& cpu) {
  if ((cpu.s.fx.fsw & 0x80) && (cpu.s.cr0 & kCr0Ne)) Raise(kMF);
}

void Fldcw(Cpu& cpu, const DecodedInsn& insn) {
  CheckX87(cpu);
  CheckPendingX87(cpu);
  FxState& fx = cpu.s.fx;
  fx.fcw = static_cast<uint16_t>(cpu.ReadOperand(insn, 0));
  if (fx.fsw & 0x3F & ~fx.fcw) fx.fsw |= 0x8080;  // unmasking a raised flag: ES, B
}

void Fwait(Cpu& cpu, const DecodedInsn&) {
  if ((cpu.s.cr0 & (kCr0Mp | kCr0Ts)) == (kCr0Mp | kCr0Ts)) Raise(kNM);
  CheckPendingX87(cpu);
}

void Emms(Cpu& cpu, const DecodedInsn&) {
  CheckX87(cpu);
  cpu.s.fx.ftw = 0;  // all registers empty
}

// The checks FXSAVE and FXRSTOR share (SDM vol. 2A): #UD/#NM from CR0, a
// memory operand aligned to 16 bytes. Returns its offset.
uint64_t FxAreaOffset(Cpu& cpu, const DecodedInsn& insn) {
  if (cpu.s.cr0 & (kCr0Em | kCr0Ts)) Raise((cpu.s.cr0 & kCr0Em) ? kUD : kNM);
  if (insn.op[0].kind != OperandKind::kMem) Raise(kUD);
  const uint64_t ea = cpu.EffectiveAddress(insn, 0);
  if (ea & 15) Raise(kGP, 0);
  return ea;
}

void Fxsave(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& o = insn.op[0];
  const uint64_t ea = FxAreaOffset(cpu, insn);
  const uint64_t amask = SizeMask(insn.address_size / 8);
  uint64_t words[64];
  std::memcpy(words, &cpu.s.fx, sizeof words);
  for (unsigned i = 0; i < 64; ++i) cpu.WriteMem(o.seg, (ea + i * 8) & amask, 8, words[i]);
}

void Fxrstor(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& o = insn.op[0];
  const uint64_t ea = FxAreaOffset(cpu, insn);
  const uint64_t amask = SizeMask(insn.address_size / 8);
  uint64_t words[64];
  for (unsigned i = 0; i < 64; ++i) words[i] = cpu.ReadMem(o.seg, (ea + i * 8) & amask, 8);
  FxState fx;
  std::memcpy(&fx, words, sizeof fx);
  if (fx.mxcsr & ~cpu.s.fx.mxcsr_mask) Raise(kGP, 0);
  fx.mxcsr_mask = cpu.s.fx.mxcsr_mask;
  cpu.s.fx = fx;
}

void Ldmxcsr(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  uint32_t v = static_cast<uint32_t>(cpu.ReadOperand(insn, 0));
  if (v & ~cpu.s.fx.mxcsr_mask) Raise(kGP, 0);
  cpu.s.fx.mxcsr = v;
}

void Stmxcsr(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  cpu.WriteOperand(insn, 0, cpu.s.fx.mxcsr);
}

}  // namespace

void RegisterFpuStateHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_FNINIT] = Fninit;
  t[ZYDIS_MNEMONIC_FNCLEX] = Fnclex;
  t[ZYDIS_MNEMONIC_FNSTSW] = Fnstsw;
  t[ZYDIS_MNEMONIC_FNSTCW] = Fnstcw;
  t[ZYDIS_MNEMONIC_FLDCW] = Fldcw;
  t[ZYDIS_MNEMONIC_FWAIT] = Fwait;
  t[ZYDIS_MNEMONIC_EMMS] = Emms;
  t[ZYDIS_MNEMONIC_FXSAVE] = Fxsave;
  t[ZYDIS_MNEMONIC_FXSAVE64] = Fxsave;
  t[ZYDIS_MNEMONIC_FXRSTOR] = Fxrstor;
  t[ZYDIS_MNEMONIC_FXRSTOR64] = Fxrstor;
  t[ZYDIS_MNEMONIC_LDMXCSR] = Ldmxcsr;
  t[ZYDIS_MNEMONIC_STMXCSR] = Stmxcsr;
}

}  // namespace tandem::accel::interp
