// Prefix corner cases of 64-bit mode decoding, as raw bytes (SDM vol. 2
// ch. 2.2.1: REX.W wins over 66; a REX not directly before the opcode is
// ignored; REX turns AH..BH into SPL..DIL; ES/CS/SS/DS overrides are
// ignored; redundant and unused prefixes change nothing).
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

Form Raw(const std::string& name, std::vector<uint8_t> bytes, uint64_t flags = kArith) {
  Form f;
  f.name = name;
  f.flags = flags;
  f.emit = [bytes](x::Assembler& a, const Case&) { a.embed(bytes.data(), bytes.size()); };
  return f;
}

std::vector<Form> PrefixForms() {
  return {
      Raw("66 REX.W add rcx, rdx", {0x66, 0x48, 0x01, 0xD1}),
      Raw("66 REX.W add rax, imm32", {0x66, 0x48, 0x05, 0x78, 0x56, 0x34, 0x82}),
      Raw("66 REX.W mov rax, imm64", {0x66, 0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 0x88}),
      Raw("REX.W then 66 (REX ignored): add cx, dx", {0x48, 0x66, 0x01, 0xD1}),
      Raw("REX then F3: mov ecx, edx", {0x41, 0xF3, 0x89, 0xD1}),
      Raw("66 66 add cx, dx", {0x66, 0x66, 0x01, 0xD1}),
      Raw("66 add ax, imm16", {0x66, 0x05, 0x34, 0x92}),
      Raw("F3 add ecx, edx (ignored)", {0xF3, 0x01, 0xD1}),
      Raw("F2 sub ecx, edx (ignored)", {0xF2, 0x29, 0xD1}),
      Raw("add cl, dh", {0x00, 0xF1}),
      Raw("REX add cl, sil", {0x40, 0x00, 0xF1}),
      Raw("REX mov sil, imm8 (B6)", {0x40, 0xB6, 0x5A}),
      Raw("mov dh, imm8 (B6)", {0xB6, 0x5A}),
      Raw("REX.B mov r14b, imm8", {0x41, 0xB6, 0x5A}),
      Raw("REX xchg dil, cl", {0x40, 0x86, 0xCF}),
      Raw("ES add [rbx+0x10], edx", {0x26, 0x01, 0x53, 0x10}),
      Raw("CS add [rbx+0x10], edx", {0x2E, 0x01, 0x53, 0x10}),
      Raw("SS add edx, [rbx+0x10]", {0x36, 0x03, 0x53, 0x10}),
      Raw("DS sub [rbx+0x10], rdx", {0x3E, 0x48, 0x29, 0x53, 0x10}),
      Raw("66 REX.W imul rcx, [rbx+0x10], imm32", {0x66, 0x48, 0x69, 0x4B, 0x10, 0x01, 0x00, 0x01, 0x80}, x86::kFlagCf | x86::kFlagOf),
      Raw("mov ecx, edx (89, zero-extends)", {0x89, 0xD1}),
      Raw("mov cx, dx (keeps the upper bits)", {0x66, 0x89, 0xD1}),
      Raw("xchg eax, eax (90 does not zero-extend)", {0x90}),
      Raw("REX.B xchg r8d, eax (41 90)", {0x41, 0x90}),
      Raw("87 xchg eax, eax (zero-extends)", {0x87, 0xC0}),
      Raw("nop dword [rax+rax] (0F 1F)", {0x0F, 0x1F, 0x44, 0x00, 0x00}),
  };
}

// Opcode aliases real CPUs execute: SHL as /6 of the shift groups ("SAL"),
// TEST as /1 of F6/F7, and XLAT, CMC/CLC/STC/CLD/STD.
std::vector<Form> AliasForms() {
  auto count_cl = [](Case& c, Rng& rng, Check& check) {
    uint64_t n = rng.Below(33);
    c.in.gpr[x86::kRcx] = (c.in.gpr[x86::kRcx] & ~0xFFull) | n;
    uint64_t f = kArith & ~x86::kFlagAf;
    if (n != 1) f &= ~x86::kFlagOf;
    if (n == 0) f = kArith;
    if (n >= 32) f &= ~x86::kFlagCf;
    check.flags = f | kDf;
  };
  auto by_one = kArith & ~x86::kFlagAf;
  std::vector<Form> forms = {
      Raw("D1 /6 shl edx, 1", {0xD1, 0xF2}, by_one),
      Raw("D0 /6 shl dl, 1", {0xD0, 0xF2}, by_one),
      Raw("REX.W C1 /6 shl rdx, 1", {0x48, 0xC1, 0xF2, 0x01}, by_one),
      Raw("D3 /6 shl edx, cl", {0xD3, 0xF2}),
      Raw("F6 /1 test cl, imm8", {0xF6, 0xC9, 0x81}, kArith & ~x86::kFlagAf),
      Raw("F7 /1 test ecx, imm32", {0xF7, 0xC9, 0x01, 0x80, 0x00, 0x80}, kArith & ~x86::kFlagAf),
      Raw("xlatb", {0xD7}),
      Raw("REX.W xlatb", {0x48, 0xD7}),
      Raw("cmc", {0xF5}),
      Raw("clc", {0xF8}),
      Raw("stc", {0xF9}),
      Raw("std", {0xFD}),
      Raw("cld", {0xFC}),
  };
  forms[3].prepare = count_cl;
  // XLAT reads [rbx + al]: keep RBX low enough in the buffer.
  for (int i : {6, 7}) {
    forms[i].prepare = [](Case& c, Rng& rng, Check&) { c.in.gpr[x86::kRbx] = MemBase() + rng.Below(kMemSize - 256); };
  }
  for (int i : {11, 12}) forms[i].vary_df = true;
  return forms;
}

TEST(DiffPrefix, PrefixCorners) { RunForms("prefixes", PrefixForms()); }
TEST(DiffPrefix, OpcodeAliases) { RunForms("aliases", AliasForms()); }

}  // namespace
}  // namespace tandem::difftest
