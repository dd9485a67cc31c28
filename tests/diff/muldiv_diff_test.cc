// MUL/IMUL (one, two and three operands) and DIV/IDIV against the host.
// MUL/IMUL define only CF and OF; DIV/IDIV leave all six flags undefined.
// Inputs that would raise #DE are bent into range for the host; the
// interpreter's #DE is checked on its own.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRax;
using x86::kRcx;
using x86::kRdx;
using x86::kR10;

constexpr uint64_t kMulFlags = x86::kFlagCf | x86::kFlagOf;

// The divisor operand of the one-operand forms: BL/BX/EBX/RBX would hold the
// buffer pointer, so the register forms divide by R10 (R10B etc.) and CH.
Opnd DivisorReg(unsigned w) { return R(kR10, w); }

int64_t SignedOf(uint64_t v, unsigned w) {
  return w == 64 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << (64 - w)) >> (64 - w);
}

// True when DIV/IDIV of the case's inputs would raise #DE.
bool DivideFaults(const Case& c, Opnd src, bool is_signed) {
  unsigned w = src.bits;
  uint64_t m = WidthMask(w);
  uint64_t d = Get(c, src) & m;
  if (d == 0) return true;
  uint64_t hi = w == 8 ? (c.in.gpr[kRax] >> 8) & 0xFF : c.in.gpr[kRdx] & m;
  uint64_t lo = c.in.gpr[kRax] & (w == 8 ? 0xFF : m);
  if (!is_signed) return hi >= d;
  __int128 dividend = static_cast<__int128>(SignedOf(hi, w)) * (static_cast<__int128>(1) << w) + lo;
  __int128 q = dividend / SignedOf(d, w);
  __int128 lim = static_cast<__int128>(1) << (w - 1);
  return q >= lim || q < -lim;
}

// Bends the dividend/divisor so that the quotient fits (no #DE on the host);
// cases it cannot bend are skipped (they would kill the test with SIGFPE).
void AvoidDivideError(Case& c, Rng& rng, Opnd src, bool is_signed, Check& check) {
  struct Guard {
    Case& c;
    Opnd src;
    bool is_signed;
    Check& check;
    ~Guard() { check.skip = check.skip || DivideFaults(c, src, is_signed); }
  } guard{c, src, is_signed, check};
  unsigned w = src.bits;
  uint64_t m = WidthMask(w);
  uint64_t d = Get(c, src) & m;
  if (d == 0) {
    d = (RandomValue(rng) & m) | 1;
    Set(c, src, d);
  }
  // Dividend hi:lo: AH:AL for 8-bit, else rDX:rAX.
  auto get_hi = [&] { return w == 8 ? (c.in.gpr[kRax] >> 8) & 0xFF : c.in.gpr[kRdx] & m; };
  auto get_lo = [&] { return c.in.gpr[kRax] & (w == 8 ? 0xFF : m); };
  auto set_hi = [&](uint64_t v) {
    if (w == 8) {
      c.in.gpr[kRax] = (c.in.gpr[kRax] & ~0xFF00ull) | ((v & 0xFF) << 8);
    } else {
      Set(c, R(kRdx, w), v);
    }
  };
  if (!is_signed) {
    if (get_hi() >= d) set_hi(get_hi() % d);
    return;
  }
  __int128 hi = SignedOf(get_hi(), w), lo = get_lo();
  __int128 dividend = hi * (static_cast<__int128>(1) << w) + lo;
  __int128 q = dividend / SignedOf(d, w);
  __int128 lim = static_cast<__int128>(1) << (w - 1);
  if (q >= lim || q < -lim) {
    set_hi(SignedOf(get_lo(), w) < 0 ? m : 0);  // dividend = sign-extended low half
    if (SignedOf(get_lo(), w) == -static_cast<int64_t>(lim - 1) - 1 && SignedOf(d, w) == -1) Set(c, src, 2);
  }
}

std::vector<Form> MulDivForms() {
  std::vector<Form> forms;
  struct Op {
    const char* name;
    asmjit::InstId id;
    bool divide, is_signed;
  };
  const Op ops[] = {{"mul", Inst::kIdMul, false, false},
                    {"imul", Inst::kIdImul, false, true},
                    {"div", Inst::kIdDiv, true, false},
                    {"idiv", Inst::kIdIdiv, true, true}};
  for (const Op& op : ops) {
    for (unsigned w : kWidths) {
      std::vector<Opnd> srcs = {DivisorReg(w), M(w)};
      if (w == 8) srcs.push_back(RHi(kRcx));
      if (w == 8 && !op.divide) srcs.push_back(RHi(kRax));  // the product's own AH
      if (w != 8) srcs.push_back(R(kRax, w));  // the accumulator itself
      if (w != 8 && !op.divide) srcs.push_back(R(kRdx, w));
      for (Opnd s : srcs) {
        Form f = Form1(op.name, op.id, s, op.divide ? 0 : kMulFlags);
        if (op.divide) {
          bool sg = op.is_signed;
          f.prepare = [s, sg](Case& c, Rng& rng, Check& check) { AvoidDivideError(c, rng, s, sg, check); };
        } else {
          // Small factors too, so that CF/OF = 0 cases are common.
          f.prepare = [s](Case& c, Rng& rng, Check&) {
            if (rng.Below(3) == 0) Set(c, s, SignedOf(rng.Below(256), 8) >> rng.Below(4));
            if (rng.Below(3) == 0) c.in.gpr[kRax] = static_cast<uint64_t>(static_cast<int64_t>(rng.Below(512)) - 256);
          };
        }
        forms.push_back(f);
      }
    }
  }
  for (unsigned w : {16u, 32u, 64u}) {
    forms.push_back(Form2("imul", Inst::kIdImul, R(kRcx, w), R(kR10, w), kMulFlags));
    forms.push_back(Form2("imul", Inst::kIdImul, R(kRcx, w), M(w), kMulFlags));
    forms.push_back(Form2("imul", Inst::kIdImul, R(kRcx, w), R(kRcx, w), kMulFlags));
    for (Opnd s : {R(kR10, w), M(w), R(kRcx, w)}) {
      Form f;
      Opnd d = R(kRcx, w);
      unsigned imm_bits = w == 16 ? 16 : 32;
      f.name = FormName("imul", {OpName(d), OpName(s), "imm" + std::to_string(imm_bits)});
      f.emit = [d, s, imm_bits](x::Assembler& a, const Case& c) {
        a.emit(Inst::kIdImul, d.ToAsm(), s.ToAsm(), asmjit::Imm(NarrowImm(c.imm, imm_bits)));
      };
      f.flags = kMulFlags;
      forms.push_back(f);
    }
  }
  return forms;
}

TEST(DiffMulDiv, MulAndDiv) { RunForms("mul/div", MulDivForms()); }

// The interpreter raises #DE for a zero divisor and a quotient that does not
// fit, with RIP at the instruction and the registers untouched.
TEST(DiffMulDiv, DivideErrorOnInterpreter) {
  struct DeCase {
    const char* what;
    std::function<void(x::Assembler&)> emit;
    uint64_t rax, rdx, r10;
  };
  const DeCase cases[] = {
      {"div r32 by 0", [](x::Assembler& a) { a.div(x::r10d); }, 5, 0, 0},
      {"div r64 overflow", [](x::Assembler& a) { a.div(x::r10); }, 0, 7, 7},
      {"div r8 overflow", [](x::Assembler& a) { a.div(x::r10b); }, 0x0300, 0, 3},
      {"idiv r64 INT64_MIN/-1", [](x::Assembler& a) { a.idiv(x::r10); }, 0x8000000000000000ull, ~0ull, ~0ull},
      {"idiv r32 INT32_MIN/-1", [](x::Assembler& a) { a.idiv(x::r10d); }, 0x80000000ull, 0xFFFFFFFFull, 0xFFFFFFFFull},
      {"idiv r16 overflow", [](x::Assembler& a) { a.idiv(x::r10w); }, 0x0000, 0x0100, 2},
      {"idiv r8 -128/-1", [](x::Assembler& a) { a.idiv(x::r10b); }, 0xFF80, 0, 0xFF},
  };
  for (const DeCase& d : cases) {
    Case c;
    c.in.gpr[kRax] = d.rax;
    c.in.gpr[kRdx] = d.rdx;
    c.in.gpr[kR10] = d.r10;
    std::vector<uint8_t> bytes = Assemble(d.emit);
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kDE) << d.what << ": " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip()) << d.what << ": #DE is a fault (RIP at the instruction)";
    EXPECT_EQ(out.regs.gpr[kRax] >> 8, d.rax >> 8) << d.what;  // the fault stub wrote AL
    EXPECT_EQ(out.regs.gpr[kRdx], d.rdx) << d.what;
  }
}

}  // namespace
}  // namespace tandem::difftest
