// SHL/SHR/SAR/ROL/ROR/RCL/RCR by 1, CL and imm8, and SHLD/SHRD by CL and
// imm8, counts 0..2*width plus random bytes (masking). Flags per SDM vol. 2:
// a masked count of 0 changes nothing; OF is defined only for count 1; AF is
// undefined after shifts; SHL/SHR leave CF undefined for counts >= width;
// SHLD/SHRD with count > width leave the result and flags undefined.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRdx;
using x86::kR10;

enum class Kind { kShift, kRotate, kRotateCarry };
struct ShiftOp {
  const char* name;
  asmjit::InstId id;
  Kind kind;
  bool cf_undefined_at_width;  // SHL/SHR
};
const ShiftOp kShiftOps[] = {
    {"shl", Inst::kIdShl, Kind::kShift, true},      {"shr", Inst::kIdShr, Kind::kShift, true},
    {"sar", Inst::kIdSar, Kind::kShift, false},     {"rol", Inst::kIdRol, Kind::kRotate, false},
    {"ror", Inst::kIdRor, Kind::kRotate, false},    {"rcl", Inst::kIdRcl, Kind::kRotateCarry, false},
    {"rcr", Inst::kIdRcr, Kind::kRotateCarry, false},
};

// A count: mostly 0..2*width, sometimes any byte (the CPU masks it).
uint64_t RandomCount(Rng& rng, unsigned w) { return rng.Below(4) == 0 ? rng.Below(256) : rng.Below(2 * w + 1); }

uint64_t ShiftFlags(const ShiftOp& op, unsigned w, uint64_t count) {
  unsigned c = count & (w == 64 ? 63 : 31);
  if (c == 0) return kArith;  // nothing changes
  uint64_t f = kArith;
  if (c != 1) f &= ~x86::kFlagOf;
  if (op.kind == Kind::kShift) {
    f &= ~x86::kFlagAf;
    if (op.cf_undefined_at_width && c >= w) f &= ~x86::kFlagCf;
  }
  return f;
}

enum class CountFrom { kOne, kCl, kImm };

Form ShiftForm(const ShiftOp& op, Opnd d, CountFrom from) {
  Form f;
  unsigned w = d.bits;
  std::string count = from == CountFrom::kOne ? "1" : from == CountFrom::kCl ? "cl" : "imm8";
  f.name = FormName(op.name, {OpName(d), count});
  asmjit::InstId id = op.id;
  f.emit = [id, d, from](x::Assembler& a, const Case& c) {
    if (from == CountFrom::kCl) {
      a.emit(id, d.ToAsm(), x::cl);
    } else if (from == CountFrom::kOne) {
      a.emit(id, d.ToAsm(), asmjit::Imm(1));  // D0/D1
    } else {
      // C0/C1 for every count (asmjit would pick D1 for 1): patch the imm8.
      std::vector<uint8_t> b = Assemble([&](x::Assembler& t) { t.emit(id, d.ToAsm(), asmjit::Imm(2)); });
      b.back() = static_cast<uint8_t>(c.imm);
      a.embed(b.data(), b.size());
    }
  };
  f.prepare = [op, w, from](Case& c, Rng& rng, Check& check) {
    uint64_t count = 1;
    if (from == CountFrom::kCl) {
      count = RandomCount(rng, w);
      c.in.gpr[x86::kRcx] = (c.in.gpr[x86::kRcx] & ~0xFFull) | count;
    } else if (from == CountFrom::kImm) {
      count = RandomCount(rng, w);
      c.imm = static_cast<int64_t>(count);
    }
    check.flags = ShiftFlags(op, w, count) | kDf;
  };
  return f;
}

std::vector<Form> ShiftForms() {
  std::vector<Form> forms;
  for (const ShiftOp& op : kShiftOps) {
    for (unsigned w : kWidths) {
      for (CountFrom from : {CountFrom::kOne, CountFrom::kCl, CountFrom::kImm}) {
        forms.push_back(ShiftForm(op, R(w == 64 ? kR10 : kRdx, w), from));
        forms.push_back(ShiftForm(op, M(w), from));
      }
    }
  }
  // High-byte register destination.
  for (const ShiftOp& op : kShiftOps) forms.push_back(ShiftForm(op, RHi(kRdx), CountFrom::kCl));
  return forms;
}

Form DoubleShiftForm(const char* name, asmjit::InstId id, Opnd d, bool by_cl, bool same = false) {
  Form f;
  unsigned w = d.bits;
  Opnd s = same ? d : R(kR10, w);
  f.name = FormName(name, {OpName(d), OpName(s), by_cl ? "cl" : "imm8"});
  f.emit = [id, d, s, by_cl](x::Assembler& a, const Case& c) {
    if (by_cl) {
      a.emit(id, d.ToAsm(), s.ToAsm(), x::cl);
    } else {
      a.emit(id, d.ToAsm(), s.ToAsm(), asmjit::Imm(c.imm & 0xFF));
    }
  };
  f.prepare = [w, by_cl](Case& c, Rng& rng, Check& check) {
    uint64_t count = RandomCount(rng, w);
    if (by_cl) {
      c.in.gpr[x86::kRcx] = (c.in.gpr[x86::kRcx] & ~0xFFull) | count;
    } else {
      c.imm = static_cast<int64_t>(count);
    }
    unsigned m = count & (w == 64 ? 63 : 31);
    if (m > w) {
      check.skip = true;  // result and flags undefined
      return;
    }
    uint64_t flags = kArith;
    if (m != 0) {
      flags &= ~x86::kFlagAf;
      if (m != 1) flags &= ~x86::kFlagOf;
    }
    check.flags = flags | kDf;
  };
  return f;
}

std::vector<Form> DoubleShiftForms() {
  std::vector<Form> forms;
  for (auto [name, id] : {std::pair{"shld", Inst::kIdShld}, std::pair{"shrd", Inst::kIdShrd}}) {
    for (unsigned w : {16u, 32u, 64u}) {
      for (bool by_cl : {true, false}) {
        forms.push_back(DoubleShiftForm(name, id, R(kRdx, w), by_cl));
        forms.push_back(DoubleShiftForm(name, id, M(w), by_cl));
        forms.push_back(DoubleShiftForm(name, id, R(kRdx, w), by_cl, /*same=*/true));
      }
    }
  }
  return forms;
}

TEST(DiffShift, ShiftsAndRotates) { RunForms("shift", ShiftForms()); }
TEST(DiffShift, DoublePrecisionShifts) { RunForms("shld/shrd", DoubleShiftForms()); }

}  // namespace
}  // namespace tandem::difftest
