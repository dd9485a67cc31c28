// ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST and INC/DEC/NEG/NOT against the host
// (SDM vol. 2: flags as each instruction's "Flags Affected"; AF is undefined
// after the logical instructions).
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

using x86::kRax;
using x86::kRcx;
using x86::kRdx;
using x86::kRsi;
using x86::kR10;

constexpr uint64_t kLogicFlags = kArith & ~x86::kFlagAf;

struct AluOp {
  const char* name;
  asmjit::InstId id;
  uint64_t flags;
};
const AluOp kAluOps[] = {
    {"add", Inst::kIdAdd, kArith}, {"adc", Inst::kIdAdc, kArith},      {"sub", Inst::kIdSub, kArith},
    {"sbb", Inst::kIdSbb, kArith}, {"and", Inst::kIdAnd, kLogicFlags}, {"or", Inst::kIdOr, kLogicFlags},
    {"xor", Inst::kIdXor, kLogicFlags}, {"cmp", Inst::kIdCmp, kArith}, {"test", Inst::kIdTest, kLogicFlags},
};

// Half the time the source equals the destination (ZF, borrow edges).
std::function<void(Case&, Rng&, Check&)> SometimesEqual(Opnd d, Opnd s) {
  return [d, s](Case& c, Rng& rng, Check&) {
    if (rng.Below(4) == 0) Set(c, s, Get(c, d));
  };
}

std::vector<Form> AluForms() {
  std::vector<Form> forms;
  for (const AluOp& op : kAluOps) {
    bool is_test = op.id == Inst::kIdTest;
    for (unsigned w : kWidths) {
      Opnd d = R(kRcx, w), s = w == 8 ? RHi(kRdx) : R(w == 64 ? kR10 : kRdx, w);
      Form rr = Form2(op.name, op.id, d, s, op.flags);
      rr.prepare = SometimesEqual(d, s);
      forms.push_back(rr);
      if (w == 8) {
        Form rex = Form2(op.name, op.id, R(kRsi, 8), R(kR10, 8), op.flags);
        rex.prepare = SometimesEqual(R(kRsi, 8), R(kR10, 8));
        forms.push_back(rex);
      }
      if (!is_test) {
        Form rm = Form2(op.name, op.id, d, M(w), op.flags);
        rm.prepare = SometimesEqual(d, M(w));
        forms.push_back(rm);
      }
      Form mr = Form2(op.name, op.id, M(w), s, op.flags);
      mr.prepare = SometimesEqual(M(w), s);
      forms.push_back(mr);
      if (op.id != Inst::kIdCmp && !is_test) forms.push_back(Locked(mr));
      unsigned imm_bits = w == 64 ? 32 : w;
      forms.push_back(Form2Imm(op.name, op.id, d, imm_bits, op.flags));
      forms.push_back(Form2Imm(op.name, op.id, R(kRax, w), imm_bits, op.flags));  // accumulator short forms
      forms.push_back(Form2Imm(op.name, op.id, M(w), imm_bits, op.flags));
    }
  }
  // The same register as both operands (sbb eax, eax; xor r9, r9; ...).
  for (const AluOp& op : kAluOps) {
    for (Opnd r : {R(kRcx, 8), RHi(kRax), R(kRdx, 16), R(kRcx, 32), R(9, 64)}) {
      forms.push_back(Form2(op.name, op.id, r, r, op.flags));
    }
  }
  return forms;
}

std::vector<Form> UnaryForms() {
  struct Op {
    const char* name;
    asmjit::InstId id;
    uint64_t flags;
  };
  // INC/DEC leave CF alone and NOT changes no flag: all six are compared.
  const Op ops[] = {{"inc", Inst::kIdInc, kArith}, {"dec", Inst::kIdDec, kArith},
                    {"neg", Inst::kIdNeg, kArith}, {"not", Inst::kIdNot, kArith}};
  std::vector<Form> forms;
  for (const Op& op : ops) {
    for (unsigned w : kWidths) {
      forms.push_back(Form1(op.name, op.id, R(w == 64 ? 9 : kRcx, w), op.flags));
      if (w == 8) forms.push_back(Form1(op.name, op.id, RHi(kRdx), op.flags));
      forms.push_back(Form1(op.name, op.id, M(w), op.flags));
      forms.push_back(Locked(Form1(op.name, op.id, M(w), op.flags)));
    }
  }
  return forms;
}

TEST(DiffAlu, BinaryOps) { RunForms("alu", AluForms()); }
TEST(DiffAlu, UnaryOps) { RunForms("unary", UnaryForms()); }

}  // namespace
}  // namespace tandem::difftest
