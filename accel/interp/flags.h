// Flag arithmetic shared by the core instruction families: operand-size masks,
// the SZP/AF/CF/OF rules of SDM vol. 1 3.4.3 and appendix A, and the
// condition codes of Jcc/SETcc/CMOVcc (SDM vol. 1 appendix B).
#pragma once

#include <cstdint>
#include <type_traits>

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

// ZF, SF and PF of a result already truncated to its size. The flags are
// put together with shifts and ORs rather than conditional ORs, so they do
// not form one long dependency chain.
inline uint64_t SzpFlags(uint64_t r, unsigned bytes) {
  static_assert(x86::kFlagZf == 1 << 6 && x86::kFlagSf == 1 << 7 && x86::kFlagPf == 1 << 2);
  return (static_cast<uint64_t>(r == 0) << 6) | (((r >> (bytes * 8 - 1)) & 1) << 7) |
         (static_cast<uint64_t>(!__builtin_parity(static_cast<uint8_t>(r))) << 2);
}

// OF (bit 11) from the sign bit of `v`, and AF (bit 4) from bit 4 of `x`.
inline uint64_t OfAfFlags(uint64_t v, uint64_t x, unsigned bytes) {
  static_assert(x86::kFlagOf == 1 << 11 && x86::kFlagAf == 1 << 4 && x86::kFlagCf == 1);
  return (((v >> (bytes * 8 - 1)) & 1) << 11) | (x & 0x10);
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
  const uint64_t cf = carry ? r <= a : r < a;
  *flags = SzpFlags(r, bytes) | cf | OfAfFlags((a ^ r) & (b ^ r), a ^ b ^ r, bytes);
  return r;
}

// a - b - borrow, truncated; returns the result and the six arithmetic flags.
inline uint64_t SubWithFlags(uint64_t a, uint64_t b, bool borrow, unsigned bytes, uint64_t* flags) {
  const uint64_t m = SizeMask(bytes);
  a &= m;
  b &= m;
  uint64_t r = (a - b - borrow) & m;
  const uint64_t cf = borrow ? a <= b : a < b;
  *flags = SzpFlags(r, bytes) | cf | OfAfFlags((a ^ b) & (a ^ r), a ^ b ^ r, bytes);
  return r;
}

// AND/OR/XOR/TEST: CF = OF = 0, AF left clear (undefined).
inline uint64_t LogicFlags(uint64_t r, unsigned bytes) { return SzpFlags(r, bytes); }

// ---- the same at a size fixed at compile time, for the sized ALU handlers ----
// On an x86-64 host the host's own instruction computes the flags, and LAHF
// and SETO collect them: a third of the instructions of the rules above
// (ADD/SUB: 8 against 30). Defined flags are the same by definition; AF is
// defined for ADD/SUB/INC/DEC and left clear for the logic forms as
// LogicFlags has it. Elsewhere the portable rules. (RunPlain's hot path.)
enum class HostAlu : uint8_t { kAdd, kSub, kAnd, kOr, kXor, kInc, kDec };

template <unsigned kSize>
using UintOfSize = std::conditional_t<kSize == 1, uint8_t,
                                      std::conditional_t<kSize == 2, uint16_t,
                                                         std::conditional_t<kSize == 4, uint32_t, uint64_t>>>;

// op(a, b) truncated to kSize bytes; *flags gets the six arithmetic flags at
// their RFLAGS positions (INC/DEC: CF is unspecified, callers leave it out).
template <HostAlu op, unsigned kSize>
inline uint64_t AluSized(uint64_t a, uint64_t b, uint64_t* flags) {
#if defined(__x86_64__)
  using T = UintOfSize<kSize>;
  T r = static_cast<T>(a);
  const T y = static_cast<T>(b);
  uint32_t ax;  // AH = SF:ZF:0:AF:0:PF:1:CF (LAHF), AL = OF
  static_assert(x86::kFlagCf == 0x01 && x86::kFlagPf == 0x04 && x86::kFlagAf == 0x10 && x86::kFlagZf == 0x40 &&
                x86::kFlagSf == 0x80 && x86::kFlagOf == 0x800);
  if constexpr (op == HostAlu::kAdd) {
    asm("add %[y], %[r]\n\tlahf\n\tseto %%al" : [r] "+r"(r), "=a"(ax) : [y] "r"(y) : "cc");
  } else if constexpr (op == HostAlu::kSub) {
    asm("sub %[y], %[r]\n\tlahf\n\tseto %%al" : [r] "+r"(r), "=a"(ax) : [y] "r"(y) : "cc");
  } else if constexpr (op == HostAlu::kInc) {
    asm("inc %[r]\n\tlahf\n\tseto %%al" : [r] "+r"(r), "=a"(ax) : : "cc");
  } else if constexpr (op == HostAlu::kDec) {
    asm("dec %[r]\n\tlahf\n\tseto %%al" : [r] "+r"(r), "=a"(ax) : : "cc");
  } else {
    // OF = CF = 0; AF (undefined) is masked off below.
    if constexpr (op == HostAlu::kAnd) {
      asm("and %[y], %[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : [y] "r"(y) : "cc");
    } else if constexpr (op == HostAlu::kOr) {
      asm("or %[y], %[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : [y] "r"(y) : "cc");
    } else {
      asm("xor %[y], %[r]\n\tlahf" : [r] "+r"(r), "=a"(ax) : [y] "r"(y) : "cc");
    }
    *flags = (ax >> 8) & (x86::kFlagSf | x86::kFlagZf | x86::kFlagPf);
    return r;
  }
  *flags = ((ax >> 8) & (x86::kFlagSf | x86::kFlagZf | x86::kFlagAf | x86::kFlagPf | x86::kFlagCf)) |
           ((ax & 1) << 11);
  return r;
#else
  switch (op) {
    case HostAlu::kAdd: return AddWithFlags(a, b, false, kSize, flags);
    case HostAlu::kSub: return SubWithFlags(a, b, false, kSize, flags);
    case HostAlu::kInc: return AddWithFlags(a, 1, false, kSize, flags);
    case HostAlu::kDec: return SubWithFlags(a, 1, false, kSize, flags);
    case HostAlu::kAnd: a &= b; break;
    case HostAlu::kOr: a |= b; break;
    case HostAlu::kXor: a ^= b; break;
  }
  a &= SizeMask(kSize);
  *flags = LogicFlags(a, kSize);
  return a;
#endif
}

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

// A register operand a handler specialised by size may read and write as
// gpr[reg] & SizeMask(size): a general register that is not AH/CH/DH/BH.
inline bool IsDirectGpr(const Operand& o) {
  return o.kind == OperandKind::kReg && (o.reg_class == RegClass::kGpr8Low || o.reg_class == RegClass::kGpr16 ||
                                         o.reg_class == RegClass::kGpr32 || o.reg_class == RegClass::kGpr64);
}
template <unsigned kSize>
inline uint64_t GetGpr(const x86::CpuState& s, int reg) {
  return s.gpr[reg] & SizeMask(kSize);
}
template <unsigned kSize>
inline void SetGpr(x86::CpuState& s, int reg, uint64_t value) {
  if constexpr (kSize == 8) {
    s.gpr[reg] = value;
  } else if constexpr (kSize == 4) {
    s.gpr[reg] = value & 0xFFFFFFFF;  // zero-extends (SDM vol. 1 3.4.1.1)
  } else {
    s.gpr[reg] = (s.gpr[reg] & ~SizeMask(kSize)) | (value & SizeMask(kSize));
  }
}

// Offset-register width of the address size, in bytes.
inline unsigned AddressBytes(const DecodedInsn& insn) { return insn.address_size / 8; }

// True in 64-bit mode (long mode with a 64-bit code segment).
inline bool Is64BitCode(const x86::CpuState& s) {
  return (s.msr.efer & x86::kEferLma) && s.seg[x86::kCs].l();
}

// Whether bits 63:47 of a linear address are all equal (SDM vol. 1 3.3.7.1).
inline bool IsCanonical(uint64_t a) { return static_cast<uint64_t>(static_cast<int64_t>(a << 16) >> 16) == a; }

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
