// Random encodings: random prefixes (66, F2, F3, REX), opcode and ModRM
// bytes, decoded by Zydis and kept when the instruction is one of the integer
// core's and touches only registers other than RSP, immediates and the
// memory operand [rbx+0x10]. This reaches encodings the hand-written forms do
// not name (every ModRM register pair, the r/m,reg and reg,r/m directions,
// opcode group members, ignored prefixes). Undefined flags are masked with
// Zydis's per-instruction flag table, plus the count rules of the shifts.
#include <Zydis/Zydis.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>

#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

struct Family {
  const char* name;
  std::set<ZydisMnemonic> mnemonics;
};

std::vector<Family> Families() {
  std::set<ZydisMnemonic> setcc = {ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETL,  ZYDIS_MNEMONIC_SETLE,
                                   ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETNLE,
                                   ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETNP, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETNZ,
                                   ZYDIS_MNEMONIC_SETO,  ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETS,  ZYDIS_MNEMONIC_SETZ};
  std::set<ZydisMnemonic> cmovcc = {ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVL,  ZYDIS_MNEMONIC_CMOVLE,
                                    ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVNLE,
                                    ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVNP, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVNZ,
                                    ZYDIS_MNEMONIC_CMOVO,  ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVS,  ZYDIS_MNEMONIC_CMOVZ};
  std::set<ZydisMnemonic> cond = setcc;
  cond.insert(cmovcc.begin(), cmovcc.end());
  return {
      {"alu", {ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND,
               ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP, ZYDIS_MNEMONIC_TEST, ZYDIS_MNEMONIC_INC,
               ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG, ZYDIS_MNEMONIC_NOT}},
      {"shift", {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR, ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR,
                 ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR, ZYDIS_MNEMONIC_SHLD, ZYDIS_MNEMONIC_SHRD}},
      {"mul", {ZYDIS_MNEMONIC_MUL, ZYDIS_MNEMONIC_IMUL}},
      {"bit", {ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC, ZYDIS_MNEMONIC_BSF,
               ZYDIS_MNEMONIC_BSR, ZYDIS_MNEMONIC_BSWAP}},
      {"move", {ZYDIS_MNEMONIC_MOV, ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX, ZYDIS_MNEMONIC_MOVSXD,
                ZYDIS_MNEMONIC_XCHG, ZYDIS_MNEMONIC_XADD, ZYDIS_MNEMONIC_CMPXCHG, ZYDIS_MNEMONIC_CBW,
                ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE, ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_CQO,
                ZYDIS_MNEMONIC_LEA}},
      {"setcc/cmovcc", cond},
      {"misc", {ZYDIS_MNEMONIC_LAHF, ZYDIS_MNEMONIC_SAHF, ZYDIS_MNEMONIC_NOP, ZYDIS_MNEMONIC_CMC, ZYDIS_MNEMONIC_CLC,
                ZYDIS_MNEMONIC_STC}},
  };
}

bool IsStackRegister(ZydisRegister r) {
  return r == ZYDIS_REGISTER_RSP || r == ZYDIS_REGISTER_ESP || r == ZYDIS_REGISTER_SP || r == ZYDIS_REGISTER_SPL;
}

// A random candidate: prefixes, opcode (one- or two-byte map), ModRM that is
// a register or [rbx+disp8 0x10], then random immediate bytes.
std::vector<uint8_t> Candidate(Rng& rng) {
  std::vector<uint8_t> b;
  const bool two_byte = rng.Below(3) == 0;
  if (rng.Below(4) == 0) b.push_back(0x66);
  // F2/F3 only on the one-byte map: in 0F they select other instructions on
  // the host (POPCNT, LZCNT, TZCNT) than on a CPU model without them.
  if (!two_byte && rng.Below(16) == 0) b.push_back(0xF3);
  if (!two_byte && rng.Below(16) == 0) b.push_back(0xF2);
  bool mem = rng.Below(3) == 0;
  if (rng.Below(2)) b.push_back(0x40 | (rng.Below(16) & (mem ? 0xE : 0xF)));  // no REX.B with [rbx]
  if (two_byte) b.push_back(0x0F);
  b.push_back(static_cast<uint8_t>(rng.Next()));
  uint8_t reg = rng.Below(8);
  if (mem) {
    b.push_back(0x40 | (reg << 3) | 3);  // [rbx + disp8]
    b.push_back(kMemDisp);
  } else {
    b.push_back(0xC0 | (reg << 3) | rng.Below(8));
  }
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(rng.Next()));
  return b;
}

struct Picked {
  std::vector<uint8_t> bytes;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

bool Acceptable(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  for (int i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& o = ops[i];
    switch (o.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        if (IsStackRegister(o.reg.value)) return false;
        if (ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_FLAGS) continue;
        if (o.reg.value == ZYDIS_REGISTER_RIP || o.reg.value == ZYDIS_REGISTER_EIP) return false;
        if (ZydisRegisterGetClass(o.reg.value) < ZYDIS_REGCLASS_GPR8 ||
            ZydisRegisterGetClass(o.reg.value) > ZYDIS_REGCLASS_GPR64) {
          return false;
        }
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        if (IsStackRegister(o.mem.base) || IsStackRegister(o.mem.index)) return false;  // RSP differs
        if (insn.mnemonic == ZYDIS_MNEMONIC_LEA && o.mem.base != ZYDIS_REGISTER_RIP) break;  // no access
        if (o.mem.base != ZYDIS_REGISTER_RBX || o.mem.index != ZYDIS_REGISTER_NONE) return false;
        if (o.mem.disp.value != kMemDisp) return false;
        if (o.mem.segment == ZYDIS_REGISTER_FS || o.mem.segment == ZYDIS_REGISTER_GS) return false;
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        break;
      default:
        return false;
    }
  }
  // Bit strings in memory with a register offset reach anywhere.
  bool bt = insn.mnemonic == ZYDIS_MNEMONIC_BT || insn.mnemonic == ZYDIS_MNEMONIC_BTS ||
            insn.mnemonic == ZYDIS_MNEMONIC_BTR || insn.mnemonic == ZYDIS_MNEMONIC_BTC;
  if (bt && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) return false;
  if (insn.mnemonic == ZYDIS_MNEMONIC_BSWAP && insn.operand_width == 16) return false;  // undefined
  // F3 0F BC/BD: TZCNT/LZCNT on this host, BSF/BSR on the CPU model (checked
  // on their own in bit_diff_test.cc). Random tails can form them too.
  if (insn.mnemonic == ZYDIS_MNEMONIC_BSF || insn.mnemonic == ZYDIS_MNEMONIC_BSR) {
    for (int i = 0; i < insn.raw.prefix_count; ++i) {
      if (insn.raw.prefixes[i].value == 0xF3) return false;
    }
  }
  if (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) return false;
  // Only 90 and 0F 1F: the reserved-NOP and prefetch rows (0F 0D, 0F 18-1E)
  // are #UD or hints in their register forms on some CPUs.
  if (insn.mnemonic == ZYDIS_MNEMONIC_NOP && insn.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT && insn.opcode != 0x1F) return false;
  return true;
}

uint64_t RegValue(const Case& c, ZydisRegister r) {
  ZydisRegister largest = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  int id = ZydisRegisterGetId(largest);
  uint64_t v = c.in.gpr[id];
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return (v >> 8) & 0xFF;
  return v & WidthMask(ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r));
}

uint64_t OperandValue(const Case& c, const ZydisDecodedOperand& o, unsigned bits) {
  if (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return o.imm.value.u;
  if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) return RegValue(c, o.reg.value);
  uint64_t v = 0;
  std::memcpy(&v, &c.mem[MemOffset(c)], bits / 8);
  return v;
}

// Narrows check for the case: Zydis's undefined flags, the shift count rules,
// BSF/BSR's destination for a zero source. False: skip (undefined result).
bool NarrowCheck(const Picked& p, const Case& c, Check& check) {
  const ZydisDecodedInstruction& insn = p.insn;
  uint64_t flags = kArith;
  if (insn.cpu_flags) flags &= ~static_cast<uint64_t>(insn.cpu_flags->undefined);
  const unsigned w = insn.operand_width;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: {
      unsigned n = OperandValue(c, p.ops[1], 8) & (w == 64 ? 63 : 31);
      bool shift = insn.mnemonic == ZYDIS_MNEMONIC_SHL || insn.mnemonic == ZYDIS_MNEMONIC_SHR ||
                   insn.mnemonic == ZYDIS_MNEMONIC_SAR;
      flags = kArith;
      if (n != 0) {
        if (n != 1) flags &= ~x86::kFlagOf;
        if (shift) flags &= ~x86::kFlagAf;
        if (shift && insn.mnemonic != ZYDIS_MNEMONIC_SAR && n >= w) flags &= ~x86::kFlagCf;
      }
      break;
    }
    case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD: {
      unsigned n = OperandValue(c, p.ops[2], 8) & (w == 64 ? 63 : 31);
      if (n > w) return false;
      flags = kArith;
      if (n != 0) {
        flags &= ~x86::kFlagAf;
        if (n != 1) flags &= ~x86::kFlagOf;
      }
      break;
    }
    case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR:
      if (OperandValue(c, p.ops[1], w) == 0) {
        ZydisRegister d = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, p.ops[0].reg.value);
        check.gpr_mask[ZydisRegisterGetId(d)] = 0;
      }
      break;
    default:
      break;
  }
  check.flags = flags | kDf;
  return true;
}

Form FuzzForm(const Family& family) {
  Form f;
  f.name = std::string("random encodings: ") + family.name;
  f.weight = 10;  // many encodings share one form
  auto picked = std::make_shared<Picked>();
  auto decoder = std::make_shared<ZydisDecoder>();
  ZydisDecoderInit(decoder.get(), ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  // As the CPUID model: no LZCNT/TZCNT (the host has them; they are excluded anyway).
  ZydisDecoderEnableMode(decoder.get(), ZYDIS_DECODER_MODE_LZCNT, false);
  ZydisDecoderEnableMode(decoder.get(), ZYDIS_DECODER_MODE_TZCNT, false);
  std::set<ZydisMnemonic> allowed = family.mnemonics;
  f.prepare = [picked, decoder, allowed](Case& c, Rng& rng, Check& check) {
    for (;;) {
      std::vector<uint8_t> b = Candidate(rng);
      if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(decoder.get(), b.data(), b.size(), &picked->insn, picked->ops))) continue;
      if (!allowed.count(picked->insn.mnemonic) || !Acceptable(picked->insn, picked->ops)) continue;
      b.resize(picked->insn.length);
      picked->bytes = b;
      if (std::getenv("TANDEM_DIFF_TRACE")) std::fprintf(stderr, "%s\n", Disassemble(b).c_str());
      break;
    }
    if (!NarrowCheck(*picked, c, check)) check.skip = true;
  };
  f.emit = [picked](x::Assembler& a, const Case&) { a.embed(picked->bytes.data(), picked->bytes.size()); };
  return f;
}

// SSE/SSE2 register forms: a mandatory-prefix slot (none, 66, F2, F3),
// optional REX, 0F, a random opcode, a register ModRM and an imm8. Kept when
// Zydis says SSE or SSE2 and every operand is an XMM register, a GPR other
// than RSP, or an immediate (no MMX, no memory).
std::vector<uint8_t> SseCandidate(Rng& rng) {
  std::vector<uint8_t> b;
  const uint8_t mandatory[] = {0, 0x66, 0xF2, 0xF3};
  if (uint8_t p = mandatory[rng.Below(4)]) b.push_back(p);
  if (rng.Below(2)) b.push_back(0x40 | rng.Below(16));
  b.push_back(0x0F);
  b.push_back(static_cast<uint8_t>(rng.Next()));
  b.push_back(0xC0 | rng.Below(64));
  b.push_back(static_cast<uint8_t>(rng.Next()));
  return b;
}

bool SseAcceptable(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  if (insn.meta.isa_ext != ZYDIS_ISA_EXT_SSE && insn.meta.isa_ext != ZYDIS_ISA_EXT_SSE2) return false;
  for (int i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& o = ops[i];
    if (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) continue;
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
    ZydisRegisterClass rc = ZydisRegisterGetClass(o.reg.value);
    if (rc == ZYDIS_REGCLASS_FLAGS || rc == ZYDIS_REGCLASS_XMM) continue;
    if (rc < ZYDIS_REGCLASS_GPR8 || rc > ZYDIS_REGCLASS_GPR64 || IsStackRegister(o.reg.value)) return false;
  }
  return true;
}

Form SseFuzzForm() {
  Form f;
  f.name = "random encodings: sse/sse2 registers";
  f.weight = 10;
  f.sse = true;
  auto picked = std::make_shared<Picked>();
  auto decoder = std::make_shared<ZydisDecoder>();
  ZydisDecoderInit(decoder.get(), ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  f.prepare = [picked, decoder](Case& c, Rng& rng, Check& check) {
    for (;;) {
      std::vector<uint8_t> b = SseCandidate(rng);
      if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(decoder.get(), b.data(), b.size(), &picked->insn, picked->ops))) continue;
      if (!SseAcceptable(picked->insn, picked->ops)) continue;
      b.resize(picked->insn.length);
      picked->bytes = b;
      break;
    }
    uint64_t flags = kArith;
    if (picked->insn.cpu_flags) flags &= ~static_cast<uint64_t>(picked->insn.cpu_flags->undefined);
    check.flags = flags | kDf;
  };
  f.emit = [picked](x::Assembler& a, const Case&) { a.embed(picked->bytes.data(), picked->bytes.size()); };
  return f;
}

TEST(DiffFuzz, RandomSseEncodings) { RunForms("random sse encodings", {SseFuzzForm()}); }

TEST(DiffFuzz, RandomEncodings) {
  std::vector<Form> forms;
  for (const Family& family : Families()) forms.push_back(FuzzForm(family));
  RunForms("random encodings", forms);
}

}  // namespace
}  // namespace tandem::difftest
