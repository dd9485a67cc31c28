// Near control transfers (SDM vol. 2): JMP, Jcc, JCXZ/JECXZ/JRCXZ, LOOP,
// LOOPE, LOOPNE, CALL and RET (with imm16), direct and indirect. The new IP
// is truncated to the operand size (so 16-bit code wraps at 64 KiB) and
// checked against the CS limit, or for canonical form in 64-bit mode.
// Far forms belong to ops_far.cc; they reach these handlers only when no far
// handler is registered, and raise #UD. Also BOUND, which raises #BR.
#include <utility>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

bool IsFarForm(const DecodedInsn& insn) {
  if (insn.operand_count && insn.op[0].kind == OperandKind::kFarPtr) return true;
  if (insn.opcode == 0xFF && (insn.modrm_reg == 3 || insn.modrm_reg == 5)) return true;
  return insn.mnemonic == ZYDIS_MNEMONIC_RET && (insn.opcode == 0xCA || insn.opcode == 0xCB);
}

// Checks a near branch target; raises #GP(0) like the hardware does before
// the branch changes any state.
inline uint64_t CheckedTarget(Cpu& cpu, uint64_t target) {
  if (Is64BitCode(cpu.s)) {
    if (!IsCanonical(target)) Raise(kGP, 0);
  } else if (target > cpu.s.seg[kCs].limit) {
    Raise(kGP, 0);
  }
  return target;
}

inline uint64_t RelativeTarget(Cpu& cpu, const DecodedInsn& insn) {
  return TruncateIp(cpu.next_rip + insn.op[0].imm, insn.operand_size);
}

void Jmp(Cpu& cpu, const DecodedInsn& insn) {
  if (IsFarForm(insn)) Raise(kUD);
  uint64_t target = insn.op[0].kind == OperandKind::kImm ? RelativeTarget(cpu, insn)
                                                          : TruncateIp(cpu.ReadOperand(insn, 0), insn.operand_size);
  cpu.next_rip = CheckedTarget(cpu, target);
}

void Jcc(Cpu& cpu, const DecodedInsn& insn) {
  if (Condition(cpu.s.rflags, insn.opcode & 0xF)) cpu.next_rip = CheckedTarget(cpu, RelativeTarget(cpu, insn));
}

// Jcc with its condition and operand size fixed at decode time
// (SpecializedControlHandler). 64-bit operands are 64-bit code, whose
// targets are checked for canonical form; narrower ones can be too (a 66
// prefix), where a 16-bit target is canonical and the CS limit does not count.
template <unsigned kCc, unsigned kBits>
void JccSized(Cpu& cpu, const DecodedInsn& insn) {
  if (!Condition(cpu.s.rflags, kCc)) return;
  const uint64_t target = TruncateIp(cpu.next_rip + insn.op[0].imm, kBits);
  if constexpr (kBits == 64) {
    if (!IsCanonical(target)) Raise(kGP, 0);
  } else {
    if (target > cpu.s.seg[kCs].limit && !Is64BitCode(cpu.s)) Raise(kGP, 0);
  }
  cpu.next_rip = target;
}

template <unsigned kBits, size_t... kCc>
Handler JccByCondition(unsigned cc, std::index_sequence<kCc...>) {
  static constexpr Handler kHandlers[] = {JccSized<kCc, kBits>...};
  return kHandlers[cc];
}

void Jcxz(Cpu& cpu, const DecodedInsn& insn) {
  if ((cpu.s.gpr[kRcx] & SizeMask(insn.address_size / 8)) == 0) {
    cpu.next_rip = CheckedTarget(cpu, RelativeTarget(cpu, insn));
  }
}

enum class Loop { kAlways, kWhileEqual, kWhileNotEqual };

template <Loop kind>
void LoopOp(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned asz = insn.address_size / 8;
  uint64_t count = (cpu.s.gpr[kRcx] - 1) & SizeMask(asz);
  bool zf = cpu.s.rflags & kFlagZf;
  bool taken = count != 0 && (kind == Loop::kAlways || (kind == Loop::kWhileEqual ? zf : !zf));
  uint64_t target = taken ? CheckedTarget(cpu, RelativeTarget(cpu, insn)) : cpu.next_rip;
  cpu.WriteGpr(kRcx, asz, count);
  cpu.next_rip = target;
}

void Call(Cpu& cpu, const DecodedInsn& insn) {
  if (IsFarForm(insn)) Raise(kUD);
  const unsigned size = insn.operand_size / 8;
  uint64_t target = insn.op[0].kind == OperandKind::kImm ? RelativeTarget(cpu, insn)
                                                          : TruncateIp(cpu.ReadOperand(insn, 0), insn.operand_size);
  CheckedTarget(cpu, target);
  cpu.Push(cpu.next_rip, size);
  cpu.next_rip = target;
}

void Ret(Cpu& cpu, const DecodedInsn& insn) {
  if (IsFarForm(insn)) Raise(kUD);
  const unsigned size = insn.operand_size / 8;
  const unsigned ss = cpu.StackSize();
  uint64_t sp = cpu.ReadGpr(kRsp, ss);
  uint64_t target = TruncateIp(cpu.ReadMem(kSs, sp, size), insn.operand_size);
  CheckedTarget(cpu, target);
  uint64_t release = insn.operand_count ? (insn.op[0].imm & 0xFFFF) : 0;
  cpu.WriteGpr(kRsp, ss, sp + size + release);
  cpu.next_rip = target;
}

// BOUND r16/32, m16&16/m32&32: #BR (a fault) when the signed index lies
// outside the bounds pair in memory (SDM vol. 2 BOUND). A register operand
// is #UD; 64-bit mode has no BOUND (62h is EVEX there).
void Bound(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& mem = insn.op[1];
  if (mem.kind != OperandKind::kMem) Raise(kUD);
  const unsigned w = insn.operand_size / 8;
  const uint64_t ea = cpu.EffectiveAddress(insn, 1);
  const uint64_t amask = SizeMask(insn.address_size / 8);
  auto signed_value = [w](uint64_t v) {
    return w == 2 ? int64_t{static_cast<int16_t>(v)} : int64_t{static_cast<int32_t>(v)};
  };
  const int64_t index = signed_value(cpu.ReadOperand(insn, 0));
  const int64_t lower = signed_value(cpu.ReadMem(mem.seg, ea, w));
  const int64_t upper = signed_value(cpu.ReadMem(mem.seg, (ea + w) & amask, w));
  if (index < lower || index > upper) Raise(kBR);
}

}  // namespace

Handler SpecializedControlHandler(const DecodedInsn& insn) {
  // Jcc rel8/rel32: 7x and 0F 8x (the low nibble is the condition).
  const bool jcc = (insn.opcode & 0xF0) == 0x70 || (insn.opcode & 0xF0) == 0x80;
  if (!jcc || insn.operand_count != 1 || insn.op[0].kind != OperandKind::kImm) return nullptr;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_JNLE: break;
    default: return nullptr;
  }
  const unsigned cc = insn.opcode & 0xF;
  switch (insn.operand_size) {
    case 16: return JccByCondition<16>(cc, std::make_index_sequence<16>());
    case 32: return JccByCondition<32>(cc, std::make_index_sequence<16>());
    case 64: return JccByCondition<64>(cc, std::make_index_sequence<16>());
    default: return nullptr;
  }
}

void RegisterControlHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_BOUND] = Bound;
  t[ZYDIS_MNEMONIC_JMP] = Jmp;
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
                          ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
                          ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
                          ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE}) {
    t[m] = Jcc;
  }
  t[ZYDIS_MNEMONIC_JCXZ] = Jcxz;
  t[ZYDIS_MNEMONIC_JECXZ] = Jcxz;
  t[ZYDIS_MNEMONIC_JRCXZ] = Jcxz;
  t[ZYDIS_MNEMONIC_LOOP] = LoopOp<Loop::kAlways>;
  t[ZYDIS_MNEMONIC_LOOPE] = LoopOp<Loop::kWhileEqual>;
  t[ZYDIS_MNEMONIC_LOOPNE] = LoopOp<Loop::kWhileNotEqual>;
  t[ZYDIS_MNEMONIC_CALL] = Call;
  t[ZYDIS_MNEMONIC_RET] = Ret;
}

}  // namespace tandem::accel::interp
