// Data movement and bit operations (SDM vol. 2): MOV, MOVZX/MOVSX/MOVSXD,
// LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, BSWAP, CBW..CQO, CMOVcc, SETcc,
// BT/BTS/BTR/BTC, BSF/BSR, PUSH/POP, PUSHA/POPA, ENTER/LEAVE, XLAT and the
// instructions that are no-ops here (NOP, PAUSE, CLFLUSH, PREFETCH), and the
// fences, which are the host's. Instructions that move RSP restore it when a
// later access faults, so that the faulting instruction can be restarted.
// XCHG with memory, CMPXCHG8B/16B and the LOCK forms of XADD, CMPXCHG and
// BTS/BTR/BTC are atomic against other vCPU threads (atomic.h).
#include <cstdio>

#include "accel/interp/atomic.h"
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

bool IsSeg(const Operand& o) { return o.kind == OperandKind::kReg && o.reg_class == RegClass::kSeg; }

// Runs f; puts RSP (and RBP when asked) back if it throws.
template <typename F>
void Restartable(Cpu& cpu, F&& f, bool save_rbp = false) {
  const uint64_t rsp = cpu.s.gpr[kRsp];
  const uint64_t rbp = cpu.s.gpr[kRbp];
  try {
    f();
  } catch (const GuestFault&) {
    cpu.s.gpr[kRsp] = rsp;
    if (save_rbp) cpu.s.gpr[kRbp] = rbp;
    throw;
  }
}

void Mov(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& dst = insn.op[0];
  if (dst.kind == OperandKind::kReg && dst.reg_class != RegClass::kGpr8Low && dst.reg_class != RegClass::kGpr8High &&
      dst.reg_class != RegClass::kGpr16 && dst.reg_class != RegClass::kGpr32 && dst.reg_class != RegClass::kGpr64) {
    // Reached only when ops_system.cc registers no MOV for the system forms.
    if (!IsSeg(dst) || dst.reg == kCs) Raise(kUD);
    cpu.LoadSegment(dst.reg, static_cast<uint16_t>(cpu.ReadOperand(insn, 1)));
    if (dst.reg == kSs) cpu.s.interrupt_shadow = true;
    return;
  }
  cpu.WriteOperand(insn, 0, cpu.ReadOperand(insn, 1));
}

// MOV at one operand size between direct general registers (IsDirectGpr),
// memory and immediates, picked at decode time (SpecializedMoveHandler).
enum class MovForm { kRegReg, kRegImm, kRegMem, kMemReg, kMemImm };

template <unsigned kSize, MovForm kForm, Cpu::EaForm kEa>
void MovSized(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& src = insn.op[1];
  // A memory operand DirectData does not map goes the whole way through
  // Mov, called last so that the common path needs no stack frame.
  if constexpr (kForm == MovForm::kRegMem) {
    const uint8_t* host = cpu.DirectData(src.seg, cpu.EffectiveAddressOf<kEa>(insn, 1), kSize, false);
    if (!host) [[unlikely]] return Mov(cpu, insn);
    SetGpr<kSize>(cpu.s, insn.op[0].reg, HostLoad(host, kSize));
  } else if constexpr (kForm == MovForm::kMemReg || kForm == MovForm::kMemImm) {
    uint8_t* host = cpu.DirectData(insn.op[0].seg, cpu.EffectiveAddressOf<kEa>(insn, 0), kSize, true);
    if (!host) [[unlikely]] return Mov(cpu, insn);
    HostStore(host, kSize, kForm == MovForm::kMemReg ? GetGpr<kSize>(cpu.s, src.reg) : src.imm);
  } else {
    SetGpr<kSize>(cpu.s, insn.op[0].reg, kForm == MovForm::kRegReg ? GetGpr<kSize>(cpu.s, src.reg) : src.imm);
  }
}

template <MovForm kForm, Cpu::EaForm kEa = Cpu::EaForm::kAny>
Handler MovBySize(unsigned size) {
  switch (size) {
    case 1: return MovSized<1, kForm, kEa>;
    case 2: return MovSized<2, kForm, kEa>;
    case 4: return MovSized<4, kForm, kEa>;
    case 8: return MovSized<8, kForm, kEa>;
    default: return nullptr;
  }
}

// MovBySize for a form with a memory operand, by its addressing form.
template <MovForm kForm>
Handler MovBySizeAndEa(unsigned size, Cpu::EaForm ea) {
  switch (ea) {
    case Cpu::EaForm::kBase16: return MovBySize<kForm, Cpu::EaForm::kBase16>(size);
    case Cpu::EaForm::kBase32: return MovBySize<kForm, Cpu::EaForm::kBase32>(size);
    case Cpu::EaForm::kBase64: return MovBySize<kForm, Cpu::EaForm::kBase64>(size);
    default: return MovBySize<kForm>(size);
  }
}

void Movzx(Cpu& cpu, const DecodedInsn& insn) { cpu.WriteOperand(insn, 0, cpu.ReadOperand(insn, 1)); }

void Movsx(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = SignExtend(cpu.ReadOperand(insn, 1), insn.op[1].size);
  cpu.WriteOperand(insn, 0, v & SizeMask(insn.op[0].size));
}

void Lea(Cpu& cpu, const DecodedInsn& insn) {
  cpu.WriteOperand(insn, 0, cpu.EffectiveAddress(insn, 1) & SizeMask(insn.op[0].size));
}

// With a memory operand XCHG locks without a prefix (SDM vol. 2 XCHG).
void Xchg(Cpu& cpu, const DecodedInsn& insn) {
  const int mem = insn.op[0].kind == OperandKind::kMem ? 0 : insn.op[1].kind == OperandKind::kMem ? 1 : -1;
  if (mem >= 0) {
    const uint64_t v = cpu.ReadOperand(insn, 1 - mem);
    cpu.WriteOperand(insn, 1 - mem, LockedRmwOperand(cpu, insn, mem, [v](uint64_t) { return v; }));
    return;
  }
  uint64_t a = cpu.ReadOperand(insn, 0);
  uint64_t b = cpu.ReadOperand(insn, 1);
  if (insn.op[1].kind == OperandKind::kMem) {
    cpu.WriteOperand(insn, 1, a);  // the access that can fault goes first
    cpu.WriteOperand(insn, 0, b);
  } else {
    cpu.WriteOperand(insn, 0, b);
    cpu.WriteOperand(insn, 1, a);
  }
}

void Xadd(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t flags;
  if (LockedMemory(insn, 0)) [[unlikely]] {
    const uint64_t src = cpu.ReadOperand(insn, 1);
    const uint64_t d =
        LockedRmwOperand(cpu, insn, 0, [&](uint64_t old) { return AddWithFlags(old, src, false, size, &flags); });
    cpu.WriteOperand(insn, 1, d);
    SetFlags(cpu.s, kArithFlags, flags);
    return;
  }
  uint64_t d = cpu.ReadOperand(insn, 0);
  uint64_t sum = AddWithFlags(d, cpu.ReadOperand(insn, 1), false, size, &flags);
  if (insn.op[0].kind == OperandKind::kMem) {
    cpu.WriteOperand(insn, 0, sum);
    cpu.WriteOperand(insn, 1, d);
  } else {
    cpu.WriteOperand(insn, 1, d);
    cpu.WriteOperand(insn, 0, sum);
  }
  SetFlags(cpu.s, kArithFlags, flags);
}

void Cmpxchg(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t acc = cpu.ReadGpr(kRax, size);
  uint64_t flags;
  if (LockedMemory(insn, 0)) [[unlikely]] {
    const uint64_t src = cpu.ReadOperand(insn, 1);
    // A mismatch stores the old value back (the locked write-back).
    const uint64_t d = LockedRmwOperand(cpu, insn, 0, [&](uint64_t old) { return old == acc ? src : old; });
    SubWithFlags(acc, d, false, size, &flags);
    if (d != acc) cpu.WriteGpr(kRax, size, d);
    SetFlags(cpu.s, kArithFlags, flags);
    return;
  }
  uint64_t d = cpu.ReadOperand(insn, 0);
  SubWithFlags(acc, d, false, size, &flags);
  if (acc == d) {
    cpu.WriteOperand(insn, 0, cpu.ReadOperand(insn, 1));
  } else {
    if (insn.op[0].kind == OperandKind::kMem) cpu.WriteOperand(insn, 0, d);  // the locked write-back
    cpu.WriteGpr(kRax, size, d);
  }
  SetFlags(cpu.s, kArithFlags, flags);
}

// CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W; the operand must be 16-byte aligned).
void Cmpxchg8b16b(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& o = insn.op[0];
  if (o.kind != OperandKind::kMem) Raise(kUD);
  uint64_t ea = cpu.EffectiveAddress(insn, 0);
  bool wide = insn.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B;
  unsigned half = wide ? 8 : 4;
  if (wide && (ea & 15)) Raise(kGP, 0);
  uint64_t amask = SizeMask(insn.address_size / 8);
  if (((ea + 2 * half - 1) & amask) > ea) [[likely]] {
    // Atomic with or without LOCK (the prefix only promises it).
    uint64_t expected[2] = {cpu.ReadGpr(kRax, half), cpu.ReadGpr(kRdx, half)};
    const uint64_t desired[2] = {cpu.ReadGpr(kRbx, half), cpu.ReadGpr(kRcx, half)};
    const bool equal = LockedCompareExchangeDouble(cpu, o.seg, ea, half, expected, desired);
    if (!equal) {
      cpu.WriteGpr(kRax, half, expected[0]);
      cpu.WriteGpr(kRdx, half, expected[1]);
    }
    SetFlags(cpu.s, kFlagZf, equal ? kFlagZf : 0);
    return;
  }
  // The operand wraps around the end of the address space: two halves, as
  // the address size gives them (no atomicity promised for such a guest).
  uint64_t lo = cpu.ReadMem(o.seg, ea, half);
  uint64_t hi = cpu.ReadMem(o.seg, (ea + half) & amask, half);
  bool equal = lo == cpu.ReadGpr(kRax, half) && hi == cpu.ReadGpr(kRdx, half);
  if (equal) {
    cpu.WriteMem(o.seg, ea, half, cpu.ReadGpr(kRbx, half));
    cpu.WriteMem(o.seg, (ea + half) & amask, half, cpu.ReadGpr(kRcx, half));
  } else {
    cpu.WriteMem(o.seg, ea, half, lo);
    cpu.WriteMem(o.seg, (ea + half) & amask, half, hi);
    cpu.WriteGpr(kRax, half, lo);
    cpu.WriteGpr(kRdx, half, hi);
  }
  SetFlags(cpu.s, kFlagZf, equal ? kFlagZf : 0);
}

void Bswap(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = cpu.ReadOperand(insn, 0);
  switch (insn.op[0].size) {
    case 8: v = __builtin_bswap64(v); break;
    case 4: v = __builtin_bswap32(static_cast<uint32_t>(v)); break;
    default: v = 0; break;  // undefined for 16-bit operands; zero as current CPUs
  }
  cpu.WriteOperand(insn, 0, v);
}

// CBW/CWDE/CDQE: sign-extend the low half of rAX into rAX.
void ConvertAcc(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  cpu.WriteGpr(kRax, size, SignExtend(cpu.ReadGpr(kRax, size / 2), size / 2));
}

// CWD/CDQ/CQO: sign of rAX into rDX.
void ConvertAccWide(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  bool negative = cpu.ReadGpr(kRax, size) & SignBit(size);
  cpu.WriteGpr(kRdx, size, negative ? ~0ull : 0);
}

void Cmovcc(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = cpu.ReadOperand(insn, 1);  // read (and fault) even when not moving
  if (Condition(cpu.s.rflags, insn.opcode & 0xF)) {
    cpu.WriteOperand(insn, 0, v);
  } else if (insn.op[0].size == 4) {
    cpu.WriteOperand(insn, 0, cpu.ReadOperand(insn, 0));  // 32-bit destinations are zero-extended anyway
  }
}

void Setcc(Cpu& cpu, const DecodedInsn& insn) {
  cpu.WriteOperand(insn, 0, Condition(cpu.s.rflags, insn.opcode & 0xF) ? 1 : 0);
}

enum class BitOp { kTest, kSet, kReset, kComplement };

template <BitOp op>
void Bit(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& base = insn.op[0];
  const unsigned size = base.size;
  const unsigned bits = size * 8;
  uint64_t offset = cpu.ReadOperand(insn, 1);
  unsigned bit;
  uint64_t ea = 0;
  bool memory_bitstring = base.kind == OperandKind::kMem && insn.op[1].kind == OperandKind::kReg;
  if (memory_bitstring) {
    // A register bit offset addresses memory beyond the operand (signed).
    int64_t soff = static_cast<int64_t>(SignExtend(offset, insn.op[1].size));
    int64_t word = soff >> __builtin_ctz(bits);
    bit = static_cast<unsigned>(soff & (bits - 1));
    ea = (cpu.EffectiveAddress(insn, 0) + static_cast<uint64_t>(word) * size) & SizeMask(insn.address_size / 8);
  } else {
    bit = offset & (bits - 1);
    if (base.kind == OperandKind::kMem) ea = cpu.EffectiveAddress(insn, 0);
  }
  const uint64_t mask = 1ull << bit;
  auto apply = [mask](uint64_t v) {
    if (op == BitOp::kSet) v |= mask;
    if (op == BitOp::kReset) v &= ~mask;
    if (op == BitOp::kComplement) v ^= mask;
    return v;
  };
  uint64_t v;
  if (op != BitOp::kTest && LockedMemory(insn, 0)) [[unlikely]] {
    v = LockedRmw(cpu, base.seg, ea, size, apply);
  } else {
    v = base.kind == OperandKind::kMem ? cpu.ReadMem(base.seg, ea, size) : cpu.ReadOperand(insn, 0);
    if constexpr (op != BitOp::kTest) {
      if (base.kind == OperandKind::kMem) {
        cpu.WriteMem(base.seg, ea, size, apply(v));
      } else {
        cpu.WriteOperand(insn, 0, apply(v));
      }
    }
  }
  SetFlags(cpu.s, kFlagCf, (v >> bit) & 1 ? kFlagCf : 0);
}

template <bool kReverse>
void BitScan(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = cpu.ReadOperand(insn, 1);
  if (v == 0) {
    SetFlags(cpu.s, kFlagZf, kFlagZf);  // destination unchanged
    return;
  }
  unsigned index = kReverse ? 63 - __builtin_clzll(v) : __builtin_ctzll(v);
  cpu.WriteOperand(insn, 0, index);
  SetFlags(cpu.s, kArithFlags, SzpFlags(index, 1) & ~kFlagZf & ~kFlagSf);
}

// TZCNT/LZCNT (decoded only when the CPUID model has BMI1/LZCNT).
template <bool kLeading>
void CountZeros(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  const uint64_t v = cpu.ReadOperand(insn, 1) & SizeMask(size);
  unsigned n;
  if (v == 0) {
    n = size * 8;
  } else {
    n = kLeading ? __builtin_clzll(v) - (64 - size * 8) : __builtin_ctzll(v);
  }
  cpu.WriteOperand(insn, 0, n);
  SetFlags(cpu.s, kFlagCf | kFlagZf, (v == 0 ? kFlagCf : 0) | (n == 0 ? kFlagZf : 0));
}

void Popcnt(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t v = cpu.ReadOperand(insn, 1);
  cpu.WriteOperand(insn, 0, __builtin_popcountll(v));
  SetFlags(cpu.s, kArithFlags, v == 0 ? kFlagZf : 0);
}

void PushOp(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  cpu.Push(cpu.ReadOperand(insn, 0) & SizeMask(size), size);
}

void PopOp(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  Restartable(cpu, [&] {
    uint64_t v = cpu.Pop(size);
    if (IsSeg(insn.op[0])) {
      // Reached only when ops_far.cc registers no POP for POP Sreg.
      if (insn.op[0].reg == kCs) Raise(kUD);
      cpu.LoadSegment(insn.op[0].reg, static_cast<uint16_t>(v));
      if (insn.op[0].reg == kSs) cpu.s.interrupt_shadow = true;
      return;
    }
    cpu.WriteOperand(insn, 0, v);  // an RSP-based address uses the incremented RSP
  });
}

void Pusha(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  Restartable(cpu, [&] {
    uint64_t sp = cpu.ReadGpr(kRsp, size);
    for (int r : {kRax, kRcx, kRdx, kRbx}) cpu.Push(cpu.ReadGpr(r, size), size);
    cpu.Push(sp, size);
    for (int r : {kRbp, kRsi, kRdi}) cpu.Push(cpu.ReadGpr(r, size), size);
  });
}

void Popa(Cpu& cpu, const DecodedInsn& insn) {
  unsigned size = insn.operand_size / 8;
  Restartable(cpu, [&] {
    uint64_t v[8];
    for (int i = 7; i >= 0; --i) v[i] = cpu.Pop(size);  // DI SI BP (SP) BX DX CX AX
    for (int r : {kRax, kRcx, kRdx, kRbx, kRbp, kRsi, kRdi}) cpu.WriteGpr(r, size, v[r]);
  });
}

void Enter(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.operand_size / 8;
  const unsigned ss = cpu.StackSize();
  const uint64_t alloc = cpu.ReadOperand(insn, 0) & 0xFFFF;
  const unsigned level = cpu.ReadOperand(insn, 1) & 31;
  Restartable(
      cpu,
      [&] {
        cpu.Push(cpu.ReadGpr(kRbp, size), size);
        uint64_t frame = cpu.ReadGpr(kRsp, ss);
        if (level > 0) {
          uint64_t bp = cpu.ReadGpr(kRbp, ss);
          for (unsigned i = 1; i < level; ++i) {
            bp = (bp - size) & SizeMask(ss);
            cpu.Push(cpu.ReadMem(kSs, bp, size), size);
          }
          cpu.Push(frame, size);
        }
        uint64_t sp = (cpu.ReadGpr(kRsp, ss) - alloc) & SizeMask(ss);
        // Touch the new stack top as the hardware's final write check does.
        if (alloc) cpu.Linearize(kSs, sp, 1, Access::kWrite);
        cpu.WriteGpr(kRbp, ss, frame);
        cpu.WriteGpr(kRsp, ss, sp);
      },
      true);
}

void Leave(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.operand_size / 8;
  const unsigned ss = cpu.StackSize();
  Restartable(cpu, [&] {
    cpu.WriteGpr(kRsp, ss, cpu.ReadGpr(kRbp, ss));
    cpu.WriteGpr(kRbp, size, cpu.Pop(size));
  });
}

void Xlat(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned seg = insn.op[0].kind == OperandKind::kMem ? insn.op[0].seg : static_cast<unsigned>(kDs);
  uint64_t ea = (cpu.s.gpr[kRbx] + (cpu.s.gpr[kRax] & 0xFF)) & SizeMask(insn.address_size / 8);
  cpu.WriteGpr(kRax, 1, cpu.ReadMem(seg, ea, 1));
}

void Nop(Cpu&, const DecodedInsn&) {}

// The guest's fences are the host's: plain guest accesses are host accesses
// of the same kind, so the host orders them the same way.
template <ZydisMnemonic kFence>
void Fence(Cpu&, const DecodedInsn&) {
  if constexpr (kFence == ZYDIS_MNEMONIC_MFENCE) {
    __builtin_ia32_mfence();
  } else if constexpr (kFence == ZYDIS_MNEMONIC_LFENCE) {
    __builtin_ia32_lfence();
  } else {
    __builtin_ia32_sfence();
  }
}

}  // namespace

Handler SpecializedMoveHandler(const DecodedInsn& insn) {
  if (insn.mnemonic != ZYDIS_MNEMONIC_MOV || insn.operand_count != 2) return nullptr;
  const Operand& dst = insn.op[0];
  const Operand& src = insn.op[1];
  const unsigned size = dst.size;
  if (src.size != size) return nullptr;
  const bool dst_reg = IsDirectGpr(dst), dst_mem = dst.kind == OperandKind::kMem;
  const bool src_reg = IsDirectGpr(src), src_mem = src.kind == OperandKind::kMem;
  const bool src_imm = src.kind == OperandKind::kImm;
  if (dst_reg && src_reg) return MovBySize<MovForm::kRegReg>(size);
  if (dst_reg && src_imm) return MovBySize<MovForm::kRegImm>(size);
  if (dst_reg && src_mem) return MovBySizeAndEa<MovForm::kRegMem>(size, Cpu::EaFormOf(insn, 1));
  if (dst_mem && src_reg) return MovBySizeAndEa<MovForm::kMemReg>(size, Cpu::EaFormOf(insn, 0));
  if (dst_mem && src_imm) return MovBySizeAndEa<MovForm::kMemImm>(size, Cpu::EaFormOf(insn, 0));
  return nullptr;
}

void RegisterMoveHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_MOV] = Mov;
  t[ZYDIS_MNEMONIC_MOVZX] = Movzx;
  t[ZYDIS_MNEMONIC_MOVSX] = Movsx;
  t[ZYDIS_MNEMONIC_MOVSXD] = Movsx;
  t[ZYDIS_MNEMONIC_LEA] = Lea;
  t[ZYDIS_MNEMONIC_XCHG] = Xchg;
  t[ZYDIS_MNEMONIC_XADD] = Xadd;
  t[ZYDIS_MNEMONIC_CMPXCHG] = Cmpxchg;
  t[ZYDIS_MNEMONIC_CMPXCHG8B] = Cmpxchg8b16b;
  t[ZYDIS_MNEMONIC_CMPXCHG16B] = Cmpxchg8b16b;
  t[ZYDIS_MNEMONIC_BSWAP] = Bswap;
  t[ZYDIS_MNEMONIC_CBW] = ConvertAcc;
  t[ZYDIS_MNEMONIC_CWDE] = ConvertAcc;
  t[ZYDIS_MNEMONIC_CDQE] = ConvertAcc;
  t[ZYDIS_MNEMONIC_CWD] = ConvertAccWide;
  t[ZYDIS_MNEMONIC_CDQ] = ConvertAccWide;
  t[ZYDIS_MNEMONIC_CQO] = ConvertAccWide;
  for (ZydisMnemonic m :
       {ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
        ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
        ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
        ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE}) {
    t[m] = Cmovcc;
  }
  for (ZydisMnemonic m :
       {ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
        ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
        ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
        ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE}) {
    t[m] = Setcc;
  }
  t[ZYDIS_MNEMONIC_BT] = Bit<BitOp::kTest>;
  t[ZYDIS_MNEMONIC_BTS] = Bit<BitOp::kSet>;
  t[ZYDIS_MNEMONIC_BTR] = Bit<BitOp::kReset>;
  t[ZYDIS_MNEMONIC_BTC] = Bit<BitOp::kComplement>;
  t[ZYDIS_MNEMONIC_BSF] = BitScan<false>;
  t[ZYDIS_MNEMONIC_BSR] = BitScan<true>;
  t[ZYDIS_MNEMONIC_POPCNT] = Popcnt;
  t[ZYDIS_MNEMONIC_TZCNT] = CountZeros<false>;
  t[ZYDIS_MNEMONIC_LZCNT] = CountZeros<true>;
  t[ZYDIS_MNEMONIC_PUSH] = PushOp;
  t[ZYDIS_MNEMONIC_POP] = PopOp;
  t[ZYDIS_MNEMONIC_PUSHA] = Pusha;
  t[ZYDIS_MNEMONIC_PUSHAD] = Pusha;
  t[ZYDIS_MNEMONIC_POPA] = Popa;
  t[ZYDIS_MNEMONIC_POPAD] = Popa;
  t[ZYDIS_MNEMONIC_ENTER] = Enter;
  t[ZYDIS_MNEMONIC_LEAVE] = Leave;
  t[ZYDIS_MNEMONIC_XLAT] = Xlat;
  t[ZYDIS_MNEMONIC_MFENCE] = Fence<ZYDIS_MNEMONIC_MFENCE>;
  t[ZYDIS_MNEMONIC_LFENCE] = Fence<ZYDIS_MNEMONIC_LFENCE>;
  t[ZYDIS_MNEMONIC_SFENCE] = Fence<ZYDIS_MNEMONIC_SFENCE>;
  for (ZydisMnemonic m :
       {ZYDIS_MNEMONIC_NOP, ZYDIS_MNEMONIC_PAUSE, ZYDIS_MNEMONIC_CLFLUSH, ZYDIS_MNEMONIC_CLFLUSHOPT, ZYDIS_MNEMONIC_PREFETCHNTA,
        ZYDIS_MNEMONIC_PREFETCHT0, ZYDIS_MNEMONIC_PREFETCHT1, ZYDIS_MNEMONIC_PREFETCHT2,
        ZYDIS_MNEMONIC_PREFETCHW, ZYDIS_MNEMONIC_PREFETCH, ZYDIS_MNEMONIC_ENDBR32, ZYDIS_MNEMONIC_ENDBR64}) {
    t[m] = Nop;
  }
}

}  // namespace tandem::accel::interp
