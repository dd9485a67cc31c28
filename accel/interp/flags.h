// Flag arithmetic shared by the core instruction families: operand-size masks,
// the SZP/AF/CF/OF rules of SDM vol. 1 3.4.3 and appendix A, and the
// condition codes of Jcc/SETcc/CMOVcc (SDM vol. 1 appendix B).
#pragma once

#include <cstdint>

#include "accel/interp/cpu.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel::interp {

inline constexpr uint64_t SizeMask(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1; }
inline constexpr uint64_t SignBit(unsigned bytes) { return 1ull << (bytes * 8 - 1); }
inline constexpr uint64_t SignExtend(uint64_t v, unsigned bytes) {
  if (bytes >= 8) return v;
  unsigned shift = 64 - bytes * 8;
  return static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
}

// ZF, SF and PF of a result already truncated to its size.
inline uint64_t SzpFlags(uint64_t r, unsigned bytes) {
  uint64_t f = 0;
  if (r == 0) f |= x86::kFlagZf;
  if (r & SignBit(bytes)) f |= x86::kFlagSf;
  if (!__builtin_parity(static_cast<uint8_t>(r))) f |= x86::kFlagPf;
  return f;
}

// Replaces the bits in `which` of RFLAGS with those of `flags`.
inline void SetFlags(x86::CpuState& s, uint64_t which, uint64_t flags) {
  s.rflags = (s.rflags & ~which) | (flags & which);
}

// a + b + carry, truncated; returns the result and the six arithmetic flags.
inline uint64_t AddWithFlags(uint64_t a, uint64_t b, bool carry, unsigned bytes, uint64_t* flags) {
  const uint64_t m = SizeMask(bytes);
  a &= m;
  b &= m;
  uint64_t r = (a + b + carry) & m;
  uint64_t f = SzpFlags(r, bytes);
  if (carry ? r <= a : r < a) f |= x86::kFlagCf;
  if ((a ^ r) & (b ^ r) & SignBit(bytes)) f |= x86::kFlagOf;
  if ((a ^ b ^ r) & 0x10) f |= x86::kFlagAf;
  *flags = f;
  return r;
}

// a - b - borrow, truncated; returns the result and the six arithmetic flags.
inline uint64_t SubWithFlags(uint64_t a, uint64_t b, bool borrow, unsigned bytes, uint64_t* flags) {
  const uint64_t m = SizeMask(bytes);
  a &= m;
  b &= m;
  uint64_t r = (a - b - borrow) & m;
  uint64_t f = SzpFlags(r, bytes);
  if (borrow ? a <= b : a < b) f |= x86::kFlagCf;
  if ((a ^ b) & (a ^ r) & SignBit(bytes)) f |= x86::kFlagOf;
  if ((a ^ b ^ r) & 0x10) f |= x86::kFlagAf;
  *flags = f;
  return r;
}

// AND/OR/XOR/TEST: CF = OF = 0, AF left clear (undefined).
inline uint64_t LogicFlags(uint64_t r, unsigned bytes) { return SzpFlags(r, bytes); }

// Condition code cc (0..15, the low nibble of Jcc/SETcc/CMOVcc opcodes).
inline bool Condition(uint64_t rf, unsigned cc) {
  bool r;
  switch (cc >> 1) {
    case 0: r = rf & x86::kFlagOf; break;                                     // O
    case 1: r = rf & x86::kFlagCf; break;                                     // B
    case 2: r = rf & x86::kFlagZf; break;                                     // E
    case 3: r = rf & (x86::kFlagCf | x86::kFlagZf); break;                    // BE
    case 4: r = rf & x86::kFlagSf; break;                                     // S
    case 5: r = rf & x86::kFlagPf; break;                                     // P
    case 6: r = !(rf & x86::kFlagSf) != !(rf & x86::kFlagOf); break;          // L
    default: r = (rf & x86::kFlagZf) || (!(rf & x86::kFlagSf) != !(rf & x86::kFlagOf)); break;  // LE
  }
  return r != (cc & 1);
}

// Offset-register width of the address size, in bytes.
inline unsigned AddressBytes(const DecodedInsn& insn) { return insn.address_size / 8; }

// True in 64-bit mode (long mode with a 64-bit code segment).
inline bool Is64BitCode(const x86::CpuState& s) {
  return (s.msr.efer & x86::kEferLma) && s.seg[x86::kCs].l();
}

// Truncates a new instruction pointer as the operand size requires.
inline uint64_t TruncateIp(uint64_t ip, unsigned operand_bits) {
  return operand_bits == 64 ? ip : operand_bits == 32 ? (ip & 0xFFFFFFFFull) : (ip & 0xFFFF);
}

}  // namespace tandem::accel::interp

namespace tandem::accel::interp {

// Raises #GP(0) when port I/O is not allowed: CPL > IOPL in protected mode,
// and always in virtual-8086 mode (ops_io.cc).
void CheckIoPermission(Cpu& cpu, uint16_t port, unsigned size);

}  // namespace tandem::accel::interp
