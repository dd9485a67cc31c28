// x87 FPU instructions other than the state ones of ops_fpu_state.cc: loads
// and stores, arithmetic, compares, transcendentals, FCMOVcc and the
// FNSTENV/FLDENV/FNSAVE/FRSTOR images (SDM vol. 1 ch. 8, figs. 8-9..8-12;
// vol. 2 FADD..FYL2XP1).
//
// Exact results come from the host: an x87 data instruction runs as the very
// same instruction on the host FPU (x86-64 hosts only; the KVM engine needs
// one anyway), with the guest's FCW (rounding, precision and exception masks)
// loaded, its operands loaded as 80-bit values and the memory operand in a
// host buffer. The host's status word then gives the exception flags, C0-C3
// and the stack movement, so NaN propagation, denormals, unsupported
// encodings, FPREM's partial remainders, FSIN/FPTAN's range reduction and the
// unmasked-exception responses (no store, biased results) are the host CPU's.
// Host x87 exceptions are deferred to the next waiting instruction, so
// running unmasked never traps on the host: the flags are read and cleared
// right after the instruction.
//
// Guest-side bookkeeping: x86::FxState keeps ST(i) in st[i] (stack order, as
// FXSAVE stores it) and the abridged tag by physical register; stack faults
// (an empty source, a push onto a full stack) are IE+SF with C1 = 0/1 and the
// QNaN indefinite when IE is masked; an unmasked exception sets ES/B and the
// next waiting x87 instruction raises #MF when CR0.NE=1 (FERR#/IRQ13 is not
// modelled: with CR0.NE=0 it is logged once and ignored).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

#if !defined(__x86_64__)
#error "ops_x87.cc runs x87 instructions on the host FPU: x86-64 hosts only"
#endif

namespace tandem::accel::interp {

namespace {

using namespace x86;
using Reg80 = std::array<uint8_t, 16>;  // an FXSAVE register slot: 80 bits + 6 bytes padding

// FSW bits (SDM vol. 1 8.1.3).
constexpr uint16_t kIE = 1 << 0, kDE = 1 << 1, kZE = 1 << 2, kOE = 1 << 3, kUE = 1 << 4, kPE = 1 << 5,
                   kSF = 1 << 6, kES = 1 << 7, kC0 = 1 << 8, kC1 = 1 << 9, kC2 = 1 << 10, kC3 = 1 << 14,
                   kB = 1 << 15;
constexpr uint16_t kExceptions = 0x3F;
constexpr uint16_t kCompareCc = kC0 | kC2 | kC3;

// The QNaN floating-point indefinite (SDM vol. 1 table 4-3).
constexpr Reg80 kIndefinite = {0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF};

// ---- the host FPU ----

struct HostRun {
  alignas(16) Reg80 out[3];  // host ST(0), ST(1), ST(2) after the instruction
  uint16_t fsw = 0;          // host FSW right after the instruction
  uint8_t cf = 0, zf = 0, pf = 0;  // RFLAGS after the instruction (FCOMI family)
};

// Runs the x87 instruction B0 B1 on the host: FNINIT, the guest FCW, loads
// `loads` operands (ST(1) = *st1 first, then ST(0) = *st0), executes, and
// stores the status, the flags and the top three registers. Memory forms
// address [RAX] = mem (ModRM mod 00, r/m 000).
template <uint8_t B0, uint8_t B1>
void HostExec(uint16_t cw, const uint8_t* st0, const uint8_t* st1, unsigned loads, void* mem, HostRun* r) {
  static constexpr uint16_t kAllMasked = 0x37F;
  uint64_t rax = reinterpret_cast<uintptr_t>(mem);
  uint16_t saved_cw = 0x37F;
  uint8_t cf, zf, pf;
  asm volatile(
      "fnstcw %[saved]\n\t"
      "fninit\n\t"
      "fldcw %[cw]\n\t"
      "cmpl $2, %[n]\n\t"
      "jb 1f\n\t"
      "fldt (%[p1])\n"
      "1:\n\t"
      "cmpl $1, %[n]\n\t"
      "jb 2f\n\t"
      "fldt (%[p0])\n"
      "2:\n\t"
      ".byte %c[b0], %c[b1]\n\t"
      "setc %[cf]\n\t"
      "setz %[zf]\n\t"
      "setp %[pf]\n\t"
      "fnstsw %%ax\n\t"
      "fnclex\n\t"
      "fldcw %[masked]\n\t"
      "fstpt (%[o])\n\t"
      "fstpt 16(%[o])\n\t"
      "fstpt 32(%[o])\n\t"
      "fninit\n\t"
      "fldcw %[saved]"
      : "+a"(rax), [saved] "+m"(saved_cw), [cf] "=&r"(cf), [zf] "=&r"(zf), [pf] "=&r"(pf)
      : [cw] "m"(cw), [masked] "m"(kAllMasked), [n] "r"(loads), [p0] "r"(st0), [p1] "r"(st1),
        [o] "r"(r->out), [b0] "i"(B0), [b1] "i"(B1)
      : "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
  r->fsw = static_cast<uint16_t>(rax);
  r->cf = cf;
  r->zf = zf;
  r->pf = pf;
}

using HostFn = void (*)(uint16_t, const uint8_t*, const uint8_t*, unsigned, void*, HostRun*);

// One entry per opcode byte D8..DF: 8 memory forms (ModRM reg<<3: [RAX]),
// then the 64 register forms C0..FF.
constexpr unsigned kFormsPerOpcode = 72;
constexpr uint8_t FormModrm(unsigned j) { return j < 8 ? static_cast<uint8_t>(j << 3) : static_cast<uint8_t>(0xC0 + (j - 8)); }
template <size_t... I>
constexpr std::array<HostFn, sizeof...(I)> MakeHostTable(std::index_sequence<I...>) {
  return {&HostExec<static_cast<uint8_t>(0xD8 + I / kFormsPerOpcode), FormModrm(I % kFormsPerOpcode)>...};
}
constexpr auto kHostTable = MakeHostTable(std::make_index_sequence<8 * kFormsPerOpcode>{});

HostFn HostFor(uint8_t b0, uint8_t modrm) {
  unsigned j = (modrm >> 6) == 3 ? 8 + (modrm & 0x3F) : (modrm >> 3) & 7;
  return kHostTable[(b0 - 0xD8) * kFormsPerOpcode + j];
}

// ---- guest register stack ----

unsigned Top(const FxState& fx) { return (fx.fsw >> 11) & 7; }
void SetTop(FxState& fx, unsigned top) { fx.fsw = static_cast<uint16_t>((fx.fsw & ~(7u << 11)) | ((top & 7) << 11)); }
unsigned Phys(const FxState& fx, unsigned i) { return (Top(fx) + i) & 7; }
bool Valid(const FxState& fx, unsigned i) { return (fx.ftw >> Phys(fx, i)) & 1; }
void SetValid(FxState& fx, unsigned i) { fx.ftw |= static_cast<uint8_t>(1u << Phys(fx, i)); }

// ST(i) live in st[i]: moving TOP rotates the array, keeping the contents of
// the physical registers.
void RotateDown(FxState& fx) {  // TOP - 1: old ST(7) becomes ST(0)
  Reg80 last = fx.st[7];
  for (int i = 7; i > 0; --i) fx.st[i] = fx.st[i - 1];
  fx.st[0] = last;
  SetTop(fx, Top(fx) - 1);
}
void RotateUp(FxState& fx) {  // TOP + 1: old ST(0) becomes ST(7)
  Reg80 first = fx.st[0];
  for (int i = 0; i < 7; ++i) fx.st[i] = fx.st[i + 1];
  fx.st[7] = first;
  SetTop(fx, Top(fx) + 1);
}
void Pop(FxState& fx) {
  fx.ftw &= static_cast<uint8_t>(~(1u << Top(fx)));
  RotateUp(fx);
}
void Put(FxState& fx, unsigned i, const Reg80& v) {
  fx.st[i] = v;
  std::memset(fx.st[i].data() + 10, 0, 6);
  SetValid(fx, i);
}
void Push(FxState& fx, const Reg80& v) {
  RotateDown(fx);
  Put(fx, 0, v);
}

// An unmasked exception flag sets ES and B; FNCLEX/FNINIT clear them.
void UpdateSummary(FxState& fx) {
  if (fx.fsw & kExceptions & ~fx.fcw) fx.fsw |= kES | kB;
}

void SetC1(FxState& fx, bool v) { fx.fsw = static_cast<uint16_t>(v ? (fx.fsw | kC1) : (fx.fsw & ~kC1)); }

// A stack overflow or underflow: IE+SF, C1 = overflow. Returns true when IE
// is masked and the instruction goes on with the indefinite.
bool StackFault(FxState& fx, bool overflow) {
  fx.fsw |= kIE | kSF;
  SetC1(fx, overflow);
  UpdateSummary(fx);
  return fx.fcw & kIE;
}

// ---- checks and the last-instruction pointers ----

void CheckNm(const Cpu& cpu) {
  if (cpu.s.cr0 & (kCr0Em | kCr0Ts)) Raise(kNM);
}

// A waiting instruction first reports a pending unmasked exception.
void CheckPending(Cpu& cpu) {
  if (!(cpu.s.fx.fsw & kES)) return;
  if (cpu.s.cr0 & kCr0Ne) Raise(kMF);
  if (cpu.sys_.logged.insert("x87-ferr").second) {
    cpu.board.log().Log(hw::kLogUnimp,
                        "interp: unmasked x87 exception with CR0.NE=0: FERR#/IRQ 13 is not modelled, ignored");
  }
}

bool IsMem(const DecodedInsn& insn) { return (insn.modrm >> 6) != 3; }

int MemIndex(const DecodedInsn& insn) {
  for (int i = 0; i < insn.operand_count; ++i) {
    if (insn.op[i].kind == OperandKind::kMem) return i;
  }
  Raise(kUD);
}

// FIP/FOP/FDP of the last non-control instruction (SDM vol. 1 8.1.8).
void RecordLast(Cpu& cpu, const DecodedInsn& insn, uint64_t ea) {
  FxState& fx = cpu.s.fx;
  fx.fip = cpu.s.rip;
  fx.fop = static_cast<uint16_t>(((insn.opcode & 7) << 8) | insn.modrm);
  if (IsMem(insn)) fx.fdp = ea;
}

// Accesses of up to max_chunk bytes: the alignment check (#AC, mmu.cc) sees
// each as a datum of its size, so the FNSAVE/FNSTENV images, which need only
// 2- or 4-byte alignment (SDM vol. 3A table 6-7), pass 2 or 4.
void ReadBytes(Cpu& cpu, const DecodedInsn& insn, int idx, uint64_t ea, uint8_t* out, unsigned n,
               unsigned max_chunk = 8) {
  const uint64_t amask = SizeMask(insn.address_size / 8);
  const uint8_t seg = insn.op[idx].seg;
  for (unsigned off = 0; off < n;) {
    unsigned chunk = n - off >= 8 ? 8 : n - off >= 4 ? 4 : n - off >= 2 ? 2 : 1;
    chunk = std::min(chunk, max_chunk);
    uint64_t v = cpu.ReadMem(seg, (ea + off) & amask, chunk);
    std::memcpy(out + off, &v, chunk);
    off += chunk;
  }
}

void WriteBytes(Cpu& cpu, const DecodedInsn& insn, int idx, uint64_t ea, const uint8_t* in, unsigned n,
                unsigned max_chunk = 8) {
  const uint64_t amask = SizeMask(insn.address_size / 8);
  const uint8_t seg = insn.op[idx].seg;
  for (unsigned off = 0; off < n;) {
    unsigned chunk = n - off >= 8 ? 8 : n - off >= 4 ? 4 : n - off >= 2 ? 2 : 1;
    chunk = std::min(chunk, max_chunk);
    uint64_t v = 0;
    std::memcpy(&v, in + off, chunk);
    cpu.WriteMem(seg, (ea + off) & amask, chunk, v);
    off += chunk;
  }
}

// ---- instructions run on the host ----

// What the guest instruction reads and writes, around one host instruction.
struct HostOp {
  uint8_t b0 = 0, modrm = 0;  // the host instruction
  int8_t src0 = -1, src1 = -1;  // guest ST positions loaded as host ST(0), ST(1)
  int8_t dst = -1;            // host position (before) whose result is the destination; -1 none
  bool push = false;          // pushes (stack overflow check; the pushed value is stored)
  uint16_t cc = 0;            // C0/C2/C3 taken from the host (C1 always is)
  bool eflags = false;        // FCOMI family: ZF/PF/CF
  uint8_t mem_in = 0;         // bytes of the memory operand read before
  uint8_t mem_out = 0;        // bytes of the memory operand stored after
};

void RunOnHost(Cpu& cpu, const DecodedInsn& insn, const HostOp& op) {
  FxState& fx = cpu.s.fx;
  alignas(16) uint8_t buf[16] = {};
  int mi = -1;
  uint64_t ea = 0;
  if (op.mem_in || op.mem_out) {
    mi = MemIndex(insn);
    ea = cpu.EffectiveAddress(insn, mi);
  }
  RecordLast(cpu, insn, ea);
  if (op.mem_in) ReadBytes(cpu, insn, mi, ea, buf, op.mem_in);

  const bool underflow = (op.src0 >= 0 && !Valid(fx, op.src0)) || (op.src1 >= 0 && !Valid(fx, op.src1));
  const bool overflow = !underflow && op.push && Valid(fx, 7);
  if (underflow || overflow) {
    // Hardware's masked response (SDM vol. 1 8.5.1.1) stores the indefinite
    // instead of the result; the unmasked one leaves everything unchanged.
    if (!StackFault(fx, overflow)) return;
    if (overflow) {
      // FPTAN/FSINCOS report no pending reduction (C2=0) on a full stack,
      // as the host does (found by tests/diff).
      fx.fsw = static_cast<uint16_t>(fx.fsw & ~op.cc);
      if (op.src0 >= 0) Put(fx, op.src0, kIndefinite);
      Push(fx, kIndefinite);
      return;
    }
  }

  const uint8_t* in0 = op.src0 >= 0 ? (Valid(fx, op.src0) ? fx.st[op.src0].data() : kIndefinite.data()) : nullptr;
  const uint8_t* in1 = op.src1 >= 0 ? (Valid(fx, op.src1) ? fx.st[op.src1].data() : kIndefinite.data()) : nullptr;
  const unsigned loads = op.src1 >= 0 ? 2 : op.src0 >= 0 ? 1 : 0;
  HostRun r;
  HostFor(op.b0, op.modrm)(fx.fcw, in0, in1 ? in1 : in0, loads, buf, &r);

  const uint16_t raised = r.fsw & kExceptions;
  const uint16_t unmasked = raised & ~fx.fcw;
  const int top_before = (8 - static_cast<int>(loads)) & 7;
  int d = (((r.fsw >> 11) & 7) - top_before + 8) & 7;  // pops (+) or pushes (-)
  if (d > 4) d -= 8;

  // Stores complete unless an exception other than precision is unmasked.
  if (op.mem_out && !(unmasked & (kIE | kDE | kZE | kOE | kUE))) WriteBytes(cpu, insn, mi, ea, buf, op.mem_out);

  // Status: sticky flags, C1, the condition codes this instruction defines.
  fx.fsw |= raised;
  if (underflow) {
    fx.fsw |= kIE | kSF;
    SetC1(fx, false);
  } else {
    SetC1(fx, r.fsw & kC1);
  }
  // FPREM/FPREM1 with a NaN or a masked invalid operand (SNaN, empty
  // register, zero divisor) compute no quotient: they clear C2 but leave C0/C3
  // as they were, as the host CPU does (found by tests/diff).
  auto is_nan = [](const uint8_t* v) {
    uint64_t mantissa;
    uint16_t exponent;
    std::memcpy(&mantissa, v, 8);
    std::memcpy(&exponent, v + 8, 2);
    return (exponent & 0x7FFF) == 0x7FFF && (mantissa << 1) != 0;
  };
  uint16_t cc = op.cc;
  const bool partial_remainder = op.b0 == 0xD9 && (op.modrm == 0xF5 || op.modrm == 0xF8);
  if (partial_remainder && (underflow || (raised & kIE) || is_nan(in0) || is_nan(in1))) cc = kC2;
  fx.fsw = static_cast<uint16_t>((fx.fsw & ~cc) | (r.fsw & cc));
  UpdateSummary(fx);
  if (op.eflags && !(unmasked & kIE)) {
    SetFlags(cpu.s, kArithFlags, (r.zf ? kFlagZf : 0) | (r.pf ? kFlagPf : 0) | (r.cf ? kFlagCf : 0));
  }

  // Stack movement and results. Host ST(k) after the instruction was host
  // position k + d before it (-1: pushed), i.e. guest ST(src) before, which
  // is ST(src - d) after the same movement.
  const int8_t src[2] = {op.src0, op.src1};
  for (int k = 0; k < d; ++k) Pop(fx);
  for (int k = 0; k < -d; ++k) RotateDown(fx);
  for (int k = 0; k < 3; ++k) {
    int before = k + d;
    int pos;
    if (before == -1) {
      pos = -d - 1;  // the pushed value
    } else if (before == op.dst && before >= 0 && before < 2 && src[before] >= 0) {
      pos = src[before] - d;
    } else {
      continue;
    }
    if (pos < 0 || pos > 7) continue;
    Put(fx, pos, underflow ? kIndefinite : r.out[k]);
  }
}

// FCMOVcc (DA/DB C0..DF): ST(0) = ST(i) when the condition holds.
void Fcmov(Cpu& cpu, const DecodedInsn& insn) {
  FxState& fx = cpu.s.fx;
  static constexpr uint8_t kCc[4] = {2, 4, 6, 10};  // B, E, BE, P (flags.h Condition)
  const unsigned i = insn.modrm & 7;
  const unsigned cc = kCc[(insn.modrm >> 3) & 3] | (insn.opcode == 0xDB ? 1 : 0);
  if (!Valid(fx, 0) || !Valid(fx, i)) {
    if (StackFault(fx, false)) Put(fx, 0, kIndefinite);
    return;
  }
  SetC1(fx, false);
  if (Condition(cpu.s.rflags, cc)) Put(fx, 0, fx.st[i]);
}

void FldSt(Cpu& cpu, unsigned i) {
  FxState& fx = cpu.s.fx;
  if (!Valid(fx, i)) {
    if (StackFault(fx, false)) Push(fx, kIndefinite);
    return;
  }
  if (Valid(fx, 7)) {
    if (StackFault(fx, true)) Push(fx, kIndefinite);
    return;
  }
  Reg80 v = fx.st[i];
  Push(fx, v);
  SetC1(fx, false);
}

void FstSt(Cpu& cpu, unsigned i, bool pop) {
  FxState& fx = cpu.s.fx;
  if (!Valid(fx, 0)) {
    if (!StackFault(fx, false)) return;
    Put(fx, i, kIndefinite);
  } else {
    Put(fx, i, fx.st[0]);
    SetC1(fx, false);
  }
  if (pop) Pop(fx);
}

void Fxch(Cpu& cpu, unsigned i) {
  FxState& fx = cpu.s.fx;
  if (!Valid(fx, 0) || !Valid(fx, i)) {
    if (!StackFault(fx, false)) return;
    if (!Valid(fx, 0)) Put(fx, 0, kIndefinite);
    if (!Valid(fx, i)) Put(fx, i, kIndefinite);
  } else {
    SetC1(fx, false);
  }
  std::swap(fx.st[0], fx.st[i]);
}

// FXAM of an empty register is "empty" (C3, C0), not a stack fault.
void Fxam(Cpu& cpu, const DecodedInsn& insn) {
  FxState& fx = cpu.s.fx;
  if (!Valid(fx, 0)) {
    RecordLast(cpu, insn, 0);
    const bool sign = fx.st[0][9] & 0x80;
    fx.fsw = static_cast<uint16_t>((fx.fsw & ~(kC0 | kC1 | kC2 | kC3)) | kC3 | kC0 | (sign ? kC1 : 0));
    return;
  }
  HostOp op;
  op.b0 = 0xD9;
  op.modrm = 0xE5;
  op.src0 = 0;
  op.cc = kCompareCc;
  RunOnHost(cpu, insn, op);
}

// ---- FNSTENV/FLDENV/FNSAVE/FRSTOR ----

// The 2-bit tag of each physical register from its contents (SDM vol. 1 8.1.7).
uint16_t FullTagWord(const FxState& fx) {
  uint16_t tw = 0;
  for (unsigned p = 0; p < 8; ++p) {
    unsigned tag;
    if (!((fx.ftw >> p) & 1)) {
      tag = 3;
    } else {
      const Reg80& v = fx.st[(p - Top(fx)) & 7];
      uint64_t mant;
      uint16_t se;
      std::memcpy(&mant, v.data(), 8);
      std::memcpy(&se, v.data() + 8, 2);
      const unsigned exp = se & 0x7FFF;
      if (exp == 0x7FFF) tag = 2;
      else if (exp == 0) tag = mant ? 2 : 1;
      else tag = (mant >> 63) ? 0 : 2;  // unnormals are special
    }
    tw |= static_cast<uint16_t>(tag << (2 * p));
  }
  return tw;
}

bool RealFormat(const Cpu& cpu) { return !(cpu.s.cr0 & kCr0Pe) || (cpu.s.rflags & kFlagVm); }

// The 14- or 28-byte environment (SDM vol. 1 figs. 8-9 to 8-12).
unsigned EnvBytes(const DecodedInsn& insn) { return insn.operand_size == 16 ? 14 : 28; }

void BuildEnv(const Cpu& cpu, const DecodedInsn& insn, uint8_t* out) {
  const FxState& fx = cpu.s.fx;
  const uint16_t tw = FullTagWord(fx);
  const uint32_t fip = static_cast<uint32_t>(fx.fip), fdp = static_cast<uint32_t>(fx.fdp);
  const uint32_t fop = fx.fop & 0x7FF;
  auto put16 = [&](unsigned off, uint32_t v) { out[off] = v & 0xFF; out[off + 1] = (v >> 8) & 0xFF; };
  auto put32 = [&](unsigned off, uint32_t v) { put16(off, v & 0xFFFF); put16(off + 2, v >> 16); };
  const bool real = RealFormat(cpu);
  if (insn.operand_size == 16) {
    put16(0, fx.fcw);
    put16(2, fx.fsw);
    put16(4, tw);
    put16(6, fip & 0xFFFF);
    put16(8, real ? (((fip >> 16) & 0xF) << 12) | fop : 0);  // FCS: not tracked
    put16(10, fdp & 0xFFFF);
    put16(12, real ? ((fdp >> 16) & 0xF) << 12 : 0);       // FDS: not tracked
  } else {
    put32(0, 0xFFFF0000u | fx.fcw);
    put32(4, 0xFFFF0000u | fx.fsw);
    put32(8, 0xFFFF0000u | tw);
    if (real) {
      put32(12, 0xFFFF0000u | (fip & 0xFFFF));
      put32(16, ((fip >> 16) << 12) | fop);
      put32(20, 0xFFFF0000u | (fdp & 0xFFFF));
      put32(24, (fdp >> 16) << 12);
    } else {
      put32(12, fip);
      put32(16, fop << 16);  // FCS 0
      put32(20, fdp);
      put32(24, 0xFFFF0000u);  // FDS 0
    }
  }
}

void LoadEnv(Cpu& cpu, const DecodedInsn& insn, const uint8_t* in, FxState& fx) {
  auto get16 = [&](unsigned off) { return static_cast<uint32_t>(in[off] | (in[off + 1] << 8)); };
  auto get32 = [&](unsigned off) { return get16(off) | (get16(off + 2) << 16); };
  const bool real = RealFormat(cpu);
  uint32_t tw;
  if (insn.operand_size == 16) {
    fx.fcw = static_cast<uint16_t>(get16(0));
    fx.fsw = static_cast<uint16_t>(get16(2));
    tw = get16(4);
    if (real) {
      fx.fip = get16(6) | ((get16(8) >> 12) << 16);
      fx.fop = static_cast<uint16_t>(get16(8) & 0x7FF);
      fx.fdp = get16(10) | ((get16(12) >> 12) << 16);
    } else {
      fx.fip = get16(6);
      fx.fdp = get16(10);
    }
  } else {
    fx.fcw = static_cast<uint16_t>(get32(0));
    fx.fsw = static_cast<uint16_t>(get32(4));
    tw = get32(8) & 0xFFFF;
    if (real) {
      fx.fip = (get32(12) & 0xFFFF) | (((get32(16) >> 12) & 0xFFFF) << 16);
      fx.fop = static_cast<uint16_t>(get32(16) & 0x7FF);
      fx.fdp = (get32(20) & 0xFFFF) | (((get32(24) >> 12) & 0xFFFF) << 16);
    } else {
      fx.fip = get32(12);
      fx.fop = static_cast<uint16_t>((get32(16) >> 16) & 0x7FF);
      fx.fdp = get32(20);
    }
  }
  uint8_t ftw = 0;
  for (unsigned p = 0; p < 8; ++p) {
    if (((tw >> (2 * p)) & 3) != 3) ftw |= static_cast<uint8_t>(1u << p);
  }
  fx.ftw = ftw;
  // ES/B as the loaded flags and masks say: the next waiting instruction
  // reports an unmasked one.
  fx.fsw &= static_cast<uint16_t>(~(kES | kB));
  UpdateSummary(fx);
}

void Fnstenv(Cpu& cpu, const DecodedInsn& insn, bool save) {
  const int mi = MemIndex(insn);
  const uint64_t ea = cpu.EffectiveAddress(insn, mi);
  uint8_t image[108] = {};
  const unsigned env = EnvBytes(insn);
  BuildEnv(cpu, insn, image);
  FxState& fx = cpu.s.fx;
  if (save) {
    for (unsigned i = 0; i < 8; ++i) std::memcpy(image + env + i * 10, fx.st[i].data(), 10);
  }
  WriteBytes(cpu, insn, mi, ea, image, save ? env + 80 : env, env == 14 ? 2 : 4);
  if (save) {  // then FNINIT
    fx.fcw = 0x37F;
    fx.fsw = 0;
    fx.ftw = 0;
    fx.fop = 0;
    fx.fip = 0;
    fx.fdp = 0;
  } else {
    fx.fcw |= kExceptions;  // FNSTENV masks all exceptions
  }
}

void Fldenv(Cpu& cpu, const DecodedInsn& insn, bool restore) {
  const int mi = MemIndex(insn);
  const uint64_t ea = cpu.EffectiveAddress(insn, mi);
  uint8_t image[108] = {};
  const unsigned env = EnvBytes(insn);
  ReadBytes(cpu, insn, mi, ea, image, restore ? env + 80 : env, env == 14 ? 2 : 4);
  FxState fx = cpu.s.fx;
  LoadEnv(cpu, insn, image, fx);
  if (restore) {
    for (unsigned i = 0; i < 8; ++i) {
      std::memset(fx.st[i].data(), 0, 16);
      std::memcpy(fx.st[i].data(), image + env + i * 10, 10);
    }
  }
  cpu.s.fx = fx;
}

// ---- decode: the guest instruction's bytes pick the work ----

bool HasSse3(const Cpu& cpu) { return cpu.board.cpuid().Query(1, 0).ecx & 1; }

// FADD..FDIVR, FCOM/FCOMP with an m32fp/m64fp/m16int/m32int operand.
HostOp ArithMem(const DecodedInsn& insn, uint8_t size) {
  HostOp op;
  op.b0 = insn.opcode;
  op.modrm = insn.modrm & 0x38;
  op.src0 = 0;
  op.mem_in = size;
  const unsigned r = (insn.modrm >> 3) & 7;
  if (r == 2 || r == 3) op.cc = kCompareCc;
  else op.dst = 0;
  return op;
}

// Two ST operands: host ST(0) = guest ST(0), host ST(1) = guest ST(i).
HostOp TwoRegs(uint8_t b0, uint8_t modrm, unsigned i, int8_t dst, uint16_t cc = 0) {
  HostOp op;
  op.b0 = b0;
  op.modrm = modrm;
  op.src0 = 0;
  op.src1 = static_cast<int8_t>(i);
  op.dst = dst;
  op.cc = cc;
  return op;
}

HostOp Load(const DecodedInsn& insn, uint8_t size) {
  HostOp op;
  op.b0 = insn.opcode;
  op.modrm = insn.modrm & 0x38;
  op.push = true;
  op.mem_in = size;
  return op;
}

HostOp Store(const DecodedInsn& insn, uint8_t size) {
  HostOp op;
  op.b0 = insn.opcode;
  op.modrm = insn.modrm & 0x38;
  op.src0 = 0;
  op.mem_out = size;
  return op;
}

// D9 E0..FF: operations on ST(0) (and ST(1)), constants.
HostOp D9Special(uint8_t modrm) {
  HostOp op;
  op.b0 = 0xD9;
  op.modrm = modrm;
  switch (modrm) {
    case 0xE0: case 0xE1: case 0xF0: case 0xFA: case 0xFC:  // FCHS FABS F2XM1 FSQRT FRNDINT
      op.src0 = 0;
      op.dst = 0;
      break;
    case 0xE4:  // FTST
      op.src0 = 0;
      op.cc = kCompareCc;
      break;
    case 0xE8: case 0xE9: case 0xEA: case 0xEB: case 0xEC: case 0xED: case 0xEE:  // FLD1..FLDZ
      op.push = true;
      break;
    case 0xF1: case 0xF3: case 0xF9:  // FYL2X FPATAN FYL2XP1: ST(1) = f(ST(1), ST(0)), pop
      op.src0 = 0;
      op.src1 = 1;
      op.dst = 1;
      break;
    case 0xF2: case 0xFB:  // FPTAN FSINCOS
      op.src0 = 0;
      op.dst = 0;
      op.push = true;
      op.cc = kC2;
      break;
    case 0xF4:  // FXTRACT
      op.src0 = 0;
      op.dst = 0;
      op.push = true;
      break;
    case 0xF5: case 0xF8:  // FPREM1 FPREM
      op.src0 = 0;
      op.src1 = 1;
      op.dst = 0;
      op.cc = kCompareCc;
      break;
    case 0xFD:  // FSCALE
      op.src0 = 0;
      op.src1 = 1;
      op.dst = 0;
      break;
    case 0xFE: case 0xFF:  // FSIN FCOS
      op.src0 = 0;
      op.dst = 0;
      op.cc = kC2;
      break;
    default:
      Raise(kUD);
  }
  return op;
}

// Every x87 instruction ops_fpu_state.cc does not implement.
void X87(Cpu& cpu, const DecodedInsn& insn) {
  const uint8_t b0 = insn.opcode;
  const uint8_t modrm = insn.modrm;
  const unsigned r = (modrm >> 3) & 7, i = modrm & 7;
  const bool mem = IsMem(insn);
  // FISTTP needs SSE3 in CPUID.
  if (mem && r == 1 && (b0 == 0xDB || b0 == 0xDD || b0 == 0xDF) && !HasSse3(cpu)) Raise(kUD);
  CheckNm(cpu);
  // FNSTENV and FNSAVE do not wait.
  if (mem && (b0 == 0xD9 || b0 == 0xDD) && r == 6) {
    Fnstenv(cpu, insn, b0 == 0xDD);
    return;
  }
  CheckPending(cpu);
  FxState& fx = cpu.s.fx;

  if (mem) {
    switch (b0) {
      case 0xD8: RunOnHost(cpu, insn, ArithMem(insn, 4)); return;
      case 0xDA: RunOnHost(cpu, insn, ArithMem(insn, 4)); return;
      case 0xDC: RunOnHost(cpu, insn, ArithMem(insn, 8)); return;
      case 0xDE: RunOnHost(cpu, insn, ArithMem(insn, 2)); return;
      case 0xD9:
        switch (r) {
          case 0: RunOnHost(cpu, insn, Load(insn, 4)); return;
          case 2: case 3: RunOnHost(cpu, insn, Store(insn, 4)); return;
          case 4: Fldenv(cpu, insn, false); return;
          default: break;
        }
        break;
      case 0xDB:
        switch (r) {
          case 0: RunOnHost(cpu, insn, Load(insn, 4)); return;
          case 1: case 2: case 3: RunOnHost(cpu, insn, Store(insn, 4)); return;
          case 5: RunOnHost(cpu, insn, Load(insn, 10)); return;
          case 7: RunOnHost(cpu, insn, Store(insn, 10)); return;
          default: break;
        }
        break;
      case 0xDD:
        switch (r) {
          case 0: RunOnHost(cpu, insn, Load(insn, 8)); return;
          case 1: case 2: case 3: RunOnHost(cpu, insn, Store(insn, 8)); return;
          case 4: Fldenv(cpu, insn, true); return;
          default: break;
        }
        break;
      case 0xDF:
        switch (r) {
          case 0: RunOnHost(cpu, insn, Load(insn, 2)); return;
          case 1: case 2: case 3: RunOnHost(cpu, insn, Store(insn, 2)); return;
          case 4: RunOnHost(cpu, insn, Load(insn, 10)); return;  // FBLD
          case 5: RunOnHost(cpu, insn, Load(insn, 8)); return;
          case 6: RunOnHost(cpu, insn, Store(insn, 10)); return;  // FBSTP
          case 7: RunOnHost(cpu, insn, Store(insn, 8)); return;
          default: break;
        }
        break;
      default: break;
    }
    Raise(kUD);
  }

  // Register forms.
  const uint8_t st_i = static_cast<uint8_t>(0xC0 | (r << 3) | 1);  // the host form on ST(1)
  switch (b0) {
    case 0xD8:
      RunOnHost(cpu, insn, TwoRegs(0xD8, st_i, i, (r == 2 || r == 3) ? -1 : 0, (r == 2 || r == 3) ? kCompareCc : 0));
      return;
    case 0xDC:
      if (r == 2 || r == 3) {  // FCOM2/FCOMP3 aliases
        RunOnHost(cpu, insn, TwoRegs(0xD8, st_i, i, -1, kCompareCc));
      } else {
        RunOnHost(cpu, insn, TwoRegs(0xDC, st_i, i, 1));
      }
      return;
    case 0xDE:
      if (r == 3) {  // FCOMPP (DE D9)
        RunOnHost(cpu, insn, TwoRegs(0xDE, 0xD9, 1, -1, kCompareCc));
      } else if (r == 2) {  // FCOMP5 alias
        RunOnHost(cpu, insn, TwoRegs(0xD8, 0xD9, i, -1, kCompareCc));
      } else {
        RunOnHost(cpu, insn, TwoRegs(0xDE, st_i, i, 1));
      }
      return;
    case 0xDA:
      if (r < 4) {
        RecordLast(cpu, insn, 0);
        Fcmov(cpu, insn);
        return;
      }
      if (modrm == 0xE9) {  // FUCOMPP
        RunOnHost(cpu, insn, TwoRegs(0xDA, 0xE9, 1, -1, kCompareCc));
        return;
      }
      break;
    case 0xDB:
      if (r < 4) {
        RecordLast(cpu, insn, 0);
        Fcmov(cpu, insn);
        return;
      }
      if (r == 4) {
        if (i == 0 || i == 1 || i == 4) return;  // FENI/FDISI/FSETPM: no-ops since the 287/387
        break;
      }
      if (r == 5 || r == 6) {  // FUCOMI, FCOMI
        HostOp op = TwoRegs(0xDB, st_i, i, -1);
        op.eflags = true;
        RunOnHost(cpu, insn, op);
        return;
      }
      break;
    case 0xDF:
      if (r == 5 || r == 6) {  // FUCOMIP, FCOMIP
        HostOp op = TwoRegs(0xDF, st_i, i, -1);
        op.eflags = true;
        RunOnHost(cpu, insn, op);
        return;
      }
      RecordLast(cpu, insn, 0);
      switch (r) {
        case 0: fx.ftw &= static_cast<uint8_t>(~(1u << Phys(fx, i))); Pop(fx); return;  // FFREEP
        case 1: Fxch(cpu, i); return;
        case 2: case 3: FstSt(cpu, i, true); return;
        default: break;
      }
      break;
    case 0xDD:
      if (r == 4 || r == 5) {  // FUCOM, FUCOMP
        RunOnHost(cpu, insn, TwoRegs(0xDD, st_i, i, -1, kCompareCc));
        return;
      }
      RecordLast(cpu, insn, 0);
      switch (r) {
        case 0: fx.ftw &= static_cast<uint8_t>(~(1u << Phys(fx, i))); return;  // FFREE
        case 1: Fxch(cpu, i); return;
        case 2: FstSt(cpu, i, false); return;
        case 3: FstSt(cpu, i, true); return;
        default: break;
      }
      break;
    case 0xD9:
      if (modrm >= 0xE0) {
        if (modrm == 0xE5) {
          Fxam(cpu, insn);
          return;
        }
        if (modrm == 0xF6 || modrm == 0xF7) {  // FDECSTP, FINCSTP
          RecordLast(cpu, insn, 0);
          if (modrm == 0xF6) RotateDown(fx);
          else RotateUp(fx);
          SetC1(fx, false);
          return;
        }
        RunOnHost(cpu, insn, D9Special(modrm));
        return;
      }
      RecordLast(cpu, insn, 0);
      switch (r) {
        case 0: FldSt(cpu, i); return;
        case 1: Fxch(cpu, i); return;
        case 2: if (i == 0) return; break;  // FNOP
        case 3: FstSt(cpu, i, true); return;  // FSTP1 alias
        default: break;
      }
      break;
    default:
      break;
  }
  Raise(kUD);
}

}  // namespace

void RegisterX87Handlers(HandlerTable& t) {
  static constexpr ZydisMnemonic kMnemonics[] = {
      ZYDIS_MNEMONIC_F2XM1,   ZYDIS_MNEMONIC_FABS,    ZYDIS_MNEMONIC_FADD,    ZYDIS_MNEMONIC_FADDP,
      ZYDIS_MNEMONIC_FBLD,    ZYDIS_MNEMONIC_FBSTP,   ZYDIS_MNEMONIC_FCHS,    ZYDIS_MNEMONIC_FCMOVB,
      ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVE,  ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNBE,
      ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNU, ZYDIS_MNEMONIC_FCMOVU,  ZYDIS_MNEMONIC_FCOM,
      ZYDIS_MNEMONIC_FCOMI,   ZYDIS_MNEMONIC_FCOMIP,  ZYDIS_MNEMONIC_FCOMP,   ZYDIS_MNEMONIC_FCOMPP,
      ZYDIS_MNEMONIC_FCOS,    ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FDISI8087_NOP, ZYDIS_MNEMONIC_FDIV,
      ZYDIS_MNEMONIC_FDIVP,   ZYDIS_MNEMONIC_FDIVR,   ZYDIS_MNEMONIC_FDIVRP,  ZYDIS_MNEMONIC_FENI8087_NOP,
      ZYDIS_MNEMONIC_FFREE,   ZYDIS_MNEMONIC_FFREEP,  ZYDIS_MNEMONIC_FIADD,   ZYDIS_MNEMONIC_FICOM,
      ZYDIS_MNEMONIC_FICOMP,  ZYDIS_MNEMONIC_FIDIV,   ZYDIS_MNEMONIC_FIDIVR,  ZYDIS_MNEMONIC_FILD,
      ZYDIS_MNEMONIC_FIMUL,   ZYDIS_MNEMONIC_FINCSTP, ZYDIS_MNEMONIC_FIST,    ZYDIS_MNEMONIC_FISTP,
      ZYDIS_MNEMONIC_FISTTP,  ZYDIS_MNEMONIC_FISUB,   ZYDIS_MNEMONIC_FISUBR,  ZYDIS_MNEMONIC_FLD,
      ZYDIS_MNEMONIC_FLD1,    ZYDIS_MNEMONIC_FLDENV,  ZYDIS_MNEMONIC_FLDL2E,  ZYDIS_MNEMONIC_FLDL2T,
      ZYDIS_MNEMONIC_FLDLG2,  ZYDIS_MNEMONIC_FLDLN2,  ZYDIS_MNEMONIC_FLDPI,   ZYDIS_MNEMONIC_FLDZ,
      ZYDIS_MNEMONIC_FMUL,    ZYDIS_MNEMONIC_FMULP,   ZYDIS_MNEMONIC_FNOP,    ZYDIS_MNEMONIC_FNSAVE,
      ZYDIS_MNEMONIC_FNSTENV, ZYDIS_MNEMONIC_FPATAN,  ZYDIS_MNEMONIC_FPREM,   ZYDIS_MNEMONIC_FPREM1,
      ZYDIS_MNEMONIC_FPTAN,   ZYDIS_MNEMONIC_FRNDINT, ZYDIS_MNEMONIC_FRSTOR,  ZYDIS_MNEMONIC_FSCALE,
      ZYDIS_MNEMONIC_FSETPM287_NOP, ZYDIS_MNEMONIC_FSIN, ZYDIS_MNEMONIC_FSINCOS, ZYDIS_MNEMONIC_FSQRT,
      ZYDIS_MNEMONIC_FST,     ZYDIS_MNEMONIC_FSTP,    ZYDIS_MNEMONIC_FSTPNCE, ZYDIS_MNEMONIC_FSUB,
      ZYDIS_MNEMONIC_FSUBP,   ZYDIS_MNEMONIC_FSUBR,   ZYDIS_MNEMONIC_FSUBRP,  ZYDIS_MNEMONIC_FTST,
      ZYDIS_MNEMONIC_FUCOM,   ZYDIS_MNEMONIC_FUCOMI,  ZYDIS_MNEMONIC_FUCOMIP, ZYDIS_MNEMONIC_FUCOMP,
      ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FXAM,    ZYDIS_MNEMONIC_FXCH,    ZYDIS_MNEMONIC_FXTRACT,
      ZYDIS_MNEMONIC_FYL2X,   ZYDIS_MNEMONIC_FYL2XP1,
  };
  for (ZydisMnemonic m : kMnemonics) t[m] = X87;
}

}  // namespace tandem::accel::interp
