// The instructions that exist only outside 64-bit mode, run in 32-bit
// compatibility mode on both sides: DAA/DAS/AAA/AAS/AAM/AAD (SDM vol. 2:
// DAA/DAS leave OF undefined; AAA/AAS define only AF and CF; AAM/AAD define
// SF, ZF and PF) and the one-byte INC/DEC r32 (40+r, 48+r).
#include "target-x86/cpuid.h"
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

constexpr uint64_t kSzp = x86::kFlagSf | x86::kFlagZf | x86::kFlagPf;

Form Compat(const std::string& name, std::vector<uint8_t> bytes, uint64_t flags) {
  Form f;
  f.name = name;
  f.compat32 = true;
  f.flags = flags;
  f.emit = [bytes](x::Assembler& a, const Case&) { a.embed(bytes.data(), bytes.size()); };
  return f;
}

// AL/AH values around the BCD edges half the time.
void BcdInputs(Case& c, Rng& rng, Check&) {
  if (rng.Below(2)) {
    const uint8_t edges[] = {0x00, 0x09, 0x0A, 0x0F, 0x10, 0x19, 0x1A, 0x90, 0x99, 0x9A, 0x9F, 0xA0, 0xF9, 0xFA, 0xFF};
    uint64_t al = edges[rng.Below(std::size(edges))];
    c.in.gpr[x86::kRax] = (c.in.gpr[x86::kRax] & ~0xFFull) | al;
  }
}

std::vector<Form> BcdForms() {
  std::vector<Form> forms = {
      Compat("daa", {0x27}, kArith & ~x86::kFlagOf),
      Compat("das", {0x2F}, kArith & ~x86::kFlagOf),
      Compat("aaa", {0x37}, x86::kFlagAf | x86::kFlagCf),
      Compat("aas", {0x3F}, x86::kFlagAf | x86::kFlagCf),
      Compat("aam", {0xD4, 0x0A}, kSzp),
      Compat("aad", {0xD5, 0x0A}, kSzp),
  };
  for (Form& f : forms) f.prepare = BcdInputs;
  // AAM/AAD with other bases (imm8 != 0; AAM 0 is #DE).
  Form aam = Compat("aam imm8", {}, kSzp);
  aam.emit = [](x::Assembler& a, const Case& c) {
    a.db(0xD4);
    a.db(static_cast<uint8_t>(c.imm) ? static_cast<uint8_t>(c.imm) : 7);
  };
  Form aad = Compat("aad imm8", {}, kSzp);
  aad.emit = [](x::Assembler& a, const Case& c) {
    a.db(0xD5);
    a.db(static_cast<uint8_t>(c.imm));
  };
  forms.push_back(aam);
  forms.push_back(aad);
  forms.push_back(Compat("inc eax (40)", {0x40}, kArith));
  forms.push_back(Compat("inc edi (47)", {0x47}, kArith));
  forms.push_back(Compat("dec ecx (49)", {0x49}, kArith));
  forms.push_back(Compat("dec si (66 4E)", {0x66, 0x4E}, kArith));
  // 82 is an alias of 80 outside 64-bit mode.
  forms.push_back(Compat("82 /0 add cl, imm8", {0x82, 0xC1, 0x85}, kArith));
  forms.push_back(Compat("82 /7 cmp dh, imm8", {0x82, 0xFE, 0x7F}, kArith));
  return forms;
}

TEST(DiffCompat, BcdAndShortIncDec) { RunForms("bcd (32-bit)", BcdForms()); }

// AAM 0 raises #DE; the BCD opcodes are #UD in 64-bit mode.
TEST(DiffCompat, AamZeroAndBcdIn64BitMode) {
  Case c;
  c.in.gpr[x86::kRax] = 0x1234;
  Outcome aam0 = RunGuestOnce({0xD4, 0x00}, c, /*compat32=*/true);
  EXPECT_EQ(aam0.vector, x86::kDE);
  EXPECT_EQ(aam0.fault_rip, LastGuestRip());
  for (uint8_t op : {0x27, 0x2F, 0x37, 0x3F, 0xD4, 0xD5}) {
    Outcome out = RunGuestOnce({op, 0x0A}, c);
    EXPECT_EQ(out.vector, x86::kUD) << "opcode " << int{op} << " in 64-bit mode " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip());
  }
}

// One-byte opcodes that 64-bit mode removed, a LOCK where none may be, and
// CMPXCHG16B while the CPUID model lacks CX16: all #UD on the interpreter.
TEST(DiffCompat, InvalidIn64BitMode) {
  const std::vector<std::vector<uint8_t>> invalid = {
      {0x06}, {0x07}, {0x0E}, {0x16}, {0x17}, {0x1E}, {0x1F}, {0x60}, {0x61}, {0x62, 0x00},
      {0x82, 0xC1, 0x01}, {0x9A, 0, 0, 0, 0, 0, 0}, {0xCE}, {0xD6}, {0xEA, 0, 0, 0, 0, 0, 0},
      {0xF0, 0x01, 0xD1},        // lock add ecx, edx
      {0xF0, 0x89, 0x53, 0x10},  // lock mov [rbx+0x10], edx
  };
  for (const std::vector<uint8_t>& bytes : invalid) {
    Case c;
    c.in.gpr[x86::kRbx] = MemBase();
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kUD) << Disassemble(bytes) << " " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip()) << Disassemble(bytes);
  }
  if (!(x86::CpuidModel::Default().Query(1, 0).ecx & (1u << 13))) {
    Case c;
    c.in.gpr[x86::kRbx] = (MemBase() + 15) & ~15ull;  // 16-byte aligned
    std::vector<uint8_t> bytes = {0x48, 0x0F, 0xC7, 0x0B};  // cmpxchg16b [rbx]
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kUD) << "cmpxchg16b without CPUID.01H:ECX.CX16 " << out.error;
  }
}

}  // namespace
}  // namespace tandem::difftest
