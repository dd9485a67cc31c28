// Shared helpers of the SSE/SSE2 and MMX handlers (internal to accel/interp):
// the 128-bit value type, the CR0/CR4 checks of SDM vol. 3A 2.5 and 13.1,
// XMM/MMX/memory operand access with the 16-byte alignment rule of legacy SSE
// (SDM vol. 1 11.4.1) and the MMX <-> x87 aliasing of SDM vol. 1 9.5.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "accel/interp/cpu.h"

namespace tandem::accel::interp::sse {

// One XMM value (or an MMX value in the low 8 bytes), little-endian lanes.
struct V128 {
  uint8_t b[16] = {};

  template <typename T>
  T get(unsigned i) const {
    T v;
    std::memcpy(&v, b + i * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T>
  void set(unsigned i, T v) {
    std::memcpy(b + i * sizeof(T), &v, sizeof(T));
  }
};

inline bool IsXmm(const Operand& o) { return o.kind == OperandKind::kReg && o.reg_class == RegClass::kXmm; }
inline bool IsMmx(const Operand& o) { return o.kind == OperandKind::kReg && o.reg_class == RegClass::kMmx; }
inline bool IsVecReg(const Operand& o) { return IsXmm(o) || IsMmx(o); }

// SSE instructions: CR0.EM or !CR4.OSFXSR -> #UD, CR0.TS -> #NM.
void CheckSse(Cpu& cpu);
// MMX instructions: CR0.EM -> #UD, CR0.TS -> #NM; then the x87 stack goes to
// MMX use (TOP = 0, all tags valid).
void EnterMmx(Cpu& cpu);
// The checks an instruction needs from the register classes of its operands.
void CheckOperands(Cpu& cpu, const DecodedInsn& insn);

// Operand i as a vector: XMM (16 bytes), MMX (8 bytes) or memory (the
// operand's size, zero-extended). A 16-byte memory operand must be 16-byte
// aligned unless `unaligned` (MOVUPS, MOVDQU, ...): #GP(0).
V128 ReadVec(Cpu& cpu, const DecodedInsn& insn, int i, bool unaligned = false);
// Writes operand i: an XMM register whole, an MMX register's 8 bytes (and
// sets its exponent to all ones), or the memory operand's size in bytes.
void WriteVec(Cpu& cpu, const DecodedInsn& insn, int i, const V128& v, bool unaligned = false);

inline unsigned VecBytes(const Operand& o) { return IsMmx(o) ? 8 : 16; }

// The instruction's imm8 (the last immediate operand), 0 without one.
inline uint8_t Imm8(const DecodedInsn& insn) {
  for (int i = insn.operand_count - 1; i >= 0; --i) {
    if (insn.op[i].kind == OperandKind::kImm) return static_cast<uint8_t>(insn.op[i].imm);
  }
  return 0;
}

template <typename T>
T Sat(int64_t v) {
  using L = std::numeric_limits<T>;
  return static_cast<T>(std::clamp<int64_t>(v, L::min(), L::max()));
}

template <typename T>
T Mask(bool c) {
  return c ? static_cast<T>(~T{0}) : T{0};
}

// op0 = Op(op0, op1, bytes, imm8) on 16 (XMM) or 8 (MMX) bytes; packed
// memory operands must be aligned unless kUnaligned.
template <auto Op, bool kUnaligned = false>
void VecOp(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  const unsigned bytes = VecBytes(insn.op[0]);
  V128 a = ReadVec(cpu, insn, 0);
  V128 b = ReadVec(cpu, insn, 1, kUnaligned);
  WriteVec(cpu, insn, 0, Op(a, b, bytes, Imm8(insn)));
}

template <typename T, auto Op>
V128 Lanewise(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < bytes / sizeof(T); ++i) r.set<T>(i, static_cast<T>(Op(a.get<T>(i), b.get<T>(i))));
  return r;
}

template <typename T, auto Op>
void Packed(Cpu& cpu, const DecodedInsn& insn) {
  VecOp<Lanewise<T, Op>>(cpu, insn);
}

// Handlers of the floating-point half (ops_sse_fp.cc).
void RegisterSseFpHandlers(HandlerTable& t);
// The SSE2 MOVSD/CMPSD (sharing mnemonics with the string instructions).
void MovsdXmm(Cpu& cpu, const DecodedInsn& insn);
void CmpsdXmm(Cpu& cpu, const DecodedInsn& insn);

// SSE3, SSSE3, SSE4.1 and SSE4.2 (ops_sse4.cc, ops_sse4_fp.cc,
// ops_sse42_string.cc), each group registered only when CPUID.01H:ECX
// (leaf1_ecx) advertises it, so a model without it gives #UD.
void RegisterSse4Handlers(HandlerTable& t, uint32_t leaf1_ecx);
void RegisterSse4FpHandlers(HandlerTable& t, uint32_t leaf1_ecx);
void RegisterSse42StringHandlers(HandlerTable& t);

}  // namespace tandem::accel::interp::sse
