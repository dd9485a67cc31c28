// Shared helpers of the SSE/SSE2 and MMX handlers (internal to accel/interp):
// the 128-bit value type, the CR0/CR4 checks of SDM vol. 3A 2.5 and 13.1,
// XMM/MMX/memory operand access with the 16-byte alignment rule of legacy SSE
// (SDM vol. 1 11.4.1) and the MMX <-> x87 aliasing of SDM vol. 1 9.5.
#pragma once

#include <cstdint>
#include <cstring>

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

// Handlers of the floating-point half (ops_sse_fp.cc).
void RegisterSseFpHandlers(HandlerTable& t);
// The SSE2 MOVSD/CMPSD (sharing mnemonics with the string instructions).
void MovsdXmm(Cpu& cpu, const DecodedInsn& insn);
void CmpsdXmm(Cpu& cpu, const DecodedInsn& insn);

}  // namespace tandem::accel::interp::sse
