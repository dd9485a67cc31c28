// MOVS/STOS/LODS/CMPS/SCAS, 8 to 64 bits, without prefix, with REP/REPE and
// with REPNE (CMPS/SCAS), both DF values, counts 0..16 inside the buffer
// (SDM vol. 2: MOVS, ..., REP/REPE/REPZ/REPNE/REPNZ).
#include <cstring>

#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRax;
using x86::kRcx;
using x86::kRdi;
using x86::kRsi;

enum class Rep { kNone, kRepE, kRepNE };

struct StringOp {
  const char* name;
  uint8_t opcode;  // byte form; +1 for 16/32/64
  bool reads_src, reads_dst, compares;
};
const StringOp kStringOps[] = {
    {"movs", 0xA4, true, false, false}, {"stos", 0xAA, false, false, false}, {"lods", 0xAC, true, false, false},
    {"cmps", 0xA6, true, true, true},   {"scas", 0xAE, false, true, true},
};

// The byte offset of element k from a pointer, in the direction DF gives.
int64_t Step(const Case& c, unsigned size, int64_t k) {
  return (c.in.rflags & x86::kFlagDf) ? -k * size : k * size;
}

Form StringForm(const StringOp& op, unsigned w, Rep rep) {
  Form f;
  const unsigned size = w / 8;
  const char suffix = "bwdq"[w == 8 ? 0 : w == 16 ? 1 : w == 32 ? 2 : 3];
  std::string prefix = rep == Rep::kNone ? "" : rep == Rep::kRepNE ? "repne " : op.compares ? "repe " : "rep ";
  f.name = prefix + op.name + suffix;
  f.vary_df = true;
  f.flags = kArith;  // CMPS/SCAS set all six; the others change none
  f.emit = [op, w, rep](x::Assembler& a, const Case&) {
    if (rep == Rep::kRepE) a.db(0xF3);
    if (rep == Rep::kRepNE) a.db(0xF2);
    if (w == 16) a.db(0x66);
    if (w == 64) a.db(0x48);
    a.db(op.opcode + (w == 8 ? 0 : 1));
  };
  f.prepare = [op, size, rep](Case& c, Rng& rng, Check&) {
    const uint64_t base = MemBase();
    const uint64_t src = 256 + rng.Below(32), dst = 640 + rng.Below(32);
    c.in.gpr[kRsi] = base + src;
    c.in.gpr[kRdi] = base + dst;
    uint64_t n = 1;
    if (rep != Rep::kNone) {
      n = rng.Below(8) == 0 ? 0 : rng.Below(17);
      c.in.gpr[kRcx] = n;
    }
    if (!op.compares) return;
    auto element = [&](uint64_t at, int64_t k) { return &c.mem[at + Step(c, size, k)]; };
    const uint64_t acc = c.in.gpr[kRax];
    // The data one compares against: from the source (CMPS) or the accumulator (SCAS).
    auto reference = [&](int64_t k, uint8_t* out) {
      if (op.reads_src) {
        std::memcpy(out, element(src, k), size);
      } else {
        std::memcpy(out, &acc, size);
      }
    };
    uint8_t ref[8];
    if (rep != Rep::kRepNE) {
      // Equal runs: make elements 0..n-1 equal, then maybe break one.
      if (rng.Below(4) != 0) {
        for (uint64_t k = 0; k < std::max<uint64_t>(n, 1); ++k) {
          reference(static_cast<int64_t>(k), ref);
          std::memcpy(element(dst, static_cast<int64_t>(k)), ref, size);
        }
        if (n && rng.Below(4) != 0) element(dst, static_cast<int64_t>(rng.Below(n)))[rng.Below(size)] ^= 1 + rng.Below(255);
      }
    } else if (n && rng.Below(2)) {
      // Unequal runs (random data) with one planted equal element.
      int64_t k = static_cast<int64_t>(rng.Below(n));
      reference(k, ref);
      std::memcpy(element(dst, k), ref, size);
    }
  };
  return f;
}

std::vector<Form> StringForms() {
  std::vector<Form> forms;
  for (const StringOp& op : kStringOps) {
    for (unsigned w : kWidths) {
      forms.push_back(StringForm(op, w, Rep::kNone));
      forms.push_back(StringForm(op, w, Rep::kRepE));
      if (op.compares) forms.push_back(StringForm(op, w, Rep::kRepNE));
    }
  }
  return forms;
}

TEST(DiffString, StringOps) { RunForms("string", StringForms()); }

}  // namespace
}  // namespace tandem::difftest
