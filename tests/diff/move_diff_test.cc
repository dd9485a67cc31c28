// XCHG/XADD/CMPXCHG, MOVZX/MOVSX/MOVSXD, CBW..CQO, SETcc/CMOVcc (all 16
// conditions), LAHF/SAHF and LEA addressing against the host.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRax;
using x86::kRcx;
using x86::kRdx;
using x86::kRsi;
using x86::kR10;

std::vector<Form> MovForms() {
  std::vector<Form> forms;
  for (unsigned w : kWidths) {
    Opnd d = R(kRcx, w), s = w == 8 ? RHi(kRdx) : R(kR10, w);
    forms.push_back(Form2("mov", Inst::kIdMov, d, s, kArith));
    forms.push_back(Form2("mov", Inst::kIdMov, d, M(w), kArith));
    forms.push_back(Form2("mov", Inst::kIdMov, M(w), s, kArith));
    forms.push_back(Form2Imm("mov", Inst::kIdMov, d, w == 64 ? 32 : w, kArith));
    forms.push_back(Form2Imm("mov", Inst::kIdMov, M(w), w == 64 ? 32 : w, kArith));
  }
  // B8+r with a full 64-bit immediate.
  Form movabs;
  movabs.name = "mov r64, imm64";
  movabs.emit = [](x::Assembler& a, const Case& c) { a.movabs(x::r11, asmjit::Imm(c.imm)); };
  forms.push_back(movabs);
  return forms;
}

std::vector<Form> ExchangeForms() {
  std::vector<Form> forms;
  for (unsigned w : kWidths) {
    Opnd d = R(kRcx, w), s = w == 8 ? RHi(kRdx) : R(kR10, w);
    forms.push_back(Form2("xchg", Inst::kIdXchg, d, s, kArith));
    forms.push_back(Form2("xchg", Inst::kIdXchg, M(w), s, kArith));
    if (w != 8) forms.push_back(Form2("xchg", Inst::kIdXchg, R(kRax, w), R(kR10, w), kArith));  // 90+r
    forms.push_back(Form2("xadd", Inst::kIdXadd, d, s, kArith));
    forms.push_back(Form2("xadd", Inst::kIdXadd, M(w), s, kArith));
    forms.push_back(Locked(Form2("xadd", Inst::kIdXadd, M(w), s, kArith)));
    forms.push_back(Locked(Form2("xchg", Inst::kIdXchg, M(w), s, kArith)));
    for (Opnd dst : {d, M(w)}) {
      // CMPXCHG compares with AL/AX/EAX/RAX: make it equal half the time.
      Form f = Form2("cmpxchg", Inst::kIdCmpxchg, dst, s, kArith);
      f.prepare = [dst](Case& c, Rng& rng, Check&) {
        if (rng.Below(2)) Set(c, R(kRax, dst.bits), Get(c, dst));
      };
      forms.push_back(f);
      if (dst.mem) forms.push_back(Locked(f));
    }
  }
  // Aliased operands: the same register twice, and the accumulator as destination.
  for (unsigned w : kWidths) {
    Opnd r = R(kRcx, w), acc = R(kRax, w);
    forms.push_back(Form2("xadd", Inst::kIdXadd, r, r, kArith));
    forms.push_back(Form2("xchg", Inst::kIdXchg, r, r, kArith));
    forms.push_back(Form2("cmpxchg", Inst::kIdCmpxchg, r, r, kArith));
    forms.push_back(Form2("cmpxchg", Inst::kIdCmpxchg, acc, R(kR10, w), kArith));
    forms.push_back(Form2("cmpxchg", Inst::kIdCmpxchg, R(kR10, w), acc, kArith));
  }
  return forms;
}

std::vector<Form> ExtendForms() {
  std::vector<Form> forms;
  for (auto [name, id] : {std::pair{"movzx", Inst::kIdMovzx}, std::pair{"movsx", Inst::kIdMovsx}}) {
    for (unsigned dw : {16u, 32u, 64u}) {
      forms.push_back(Form2(name, id, R(kRcx, dw), R(kR10, 8), 0));
      if (dw != 64) forms.push_back(Form2(name, id, R(kRcx, dw), RHi(kRdx), 0));  // no AH..BH with REX
      forms.push_back(Form2(name, id, R(kRcx, dw), M(8), 0));
      if (dw != 16) {
        forms.push_back(Form2(name, id, R(kRcx, dw), R(kR10, 16), 0));
        forms.push_back(Form2(name, id, R(kRcx, dw), M(16), 0));
      }
    }
  }
  forms.push_back(Form2("movsxd", Inst::kIdMovsxd, R(kRcx, 64), R(kR10, 32), 0));
  forms.push_back(Form2("movsxd", Inst::kIdMovsxd, R(kRcx, 64), M(32), 0));
  // Source inside the destination register.
  forms.push_back(Form2("movzx", Inst::kIdMovzx, R(kRcx, 32), R(kRcx, 8), 0));
  forms.push_back(Form2("movsx", Inst::kIdMovsx, R(kRcx, 64), R(kRcx, 16), 0));
  forms.push_back(Form2("movsx", Inst::kIdMovsx, R(kRax, 16), RHi(kRax), 0));
  forms.push_back(Form2("movsxd", Inst::kIdMovsxd, R(kRcx, 64), R(kRcx, 32), 0));
  const std::pair<const char*, void (*)(x::Assembler&)> converts[] = {
      {"cbw", [](x::Assembler& a) { a.cbw(); }},   {"cwde", [](x::Assembler& a) { a.cwde(); }},
      {"cdqe", [](x::Assembler& a) { a.cdqe(); }}, {"cwd", [](x::Assembler& a) { a.cwd(); }},
      {"cdq", [](x::Assembler& a) { a.cdq(); }},   {"cqo", [](x::Assembler& a) { a.cqo(); }},
  };
  for (auto [name, emit] : converts) {
    Form f;
    f.name = name;
    f.emit = [emit](x::Assembler& a, const Case&) { emit(a); };
    forms.push_back(f);
  }
  return forms;
}

const char* const kCc[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};

std::vector<Form> ConditionForms() {
  std::vector<Form> forms;
  for (int cc = 0; cc < 16; ++cc) {
    auto cond = static_cast<x::CondCode>(cc);
    std::string set = std::string("set") + kCc[cc], cmov = std::string("cmov") + kCc[cc];
    forms.push_back(Form1(set, Inst::setccFromCond(cond), cc % 2 ? R(kRsi, 8) : RHi(kRcx), kArith));
    forms.push_back(Form1(set, Inst::setccFromCond(cond), M(8), kArith));
    for (unsigned w : {16u, 32u, 64u}) {
      forms.push_back(Form2(cmov, Inst::cmovccFromCond(cond), R(kRcx, w), R(kR10, w), kArith));
    }
    forms.push_back(Form2(cmov, Inst::cmovccFromCond(cond), R(kRcx, 32), M(32), kArith));
  }
  return forms;
}

std::vector<Form> FlagByteForms() {
  Form lahf;
  lahf.name = "lahf";
  lahf.emit = [](x::Assembler& a, const Case&) { a.lahf(); };
  Form sahf;
  sahf.name = "sahf";
  sahf.emit = [](x::Assembler& a, const Case&) { a.sahf(); };
  return {lahf, sahf};
}

// LEA of [base + index*scale + disp] with random registers and displacement;
// no memory is touched, so every register may hold anything.
std::vector<Form> LeaForms() {
  struct Addr {
    const char* text;
    std::function<x::Mem(int32_t disp)> mem;
  };
  const Addr addrs[] = {
      {"[rbx+rsi*4+disp]", [](int32_t d) { return x::ptr(x::rbx, x::rsi, 2, d); }},
      {"[rbp+disp]", [](int32_t d) { return x::ptr(x::rbp, d); }},
      {"[r13+r12*1+disp]", [](int32_t d) { return x::ptr(x::r13, x::r12, 0, d); }},
      {"[rdx+r9*2]", [](int32_t) { return x::ptr(x::rdx, x::r9, 1); }},
      {"[rcx+rcx*4+disp] (dst is base and index)", [](int32_t d) { return x::ptr(x::rcx, x::rcx, 2, d); }},
      {"[ebx+esi*8+disp] (addr32)", [](int32_t d) { return x::ptr(x::ebx, x::esi, 3, d); }},
      {"[r10d+disp] (addr32)", [](int32_t d) { return x::ptr(x::r10d, d); }},
  };
  std::vector<Form> forms;
  for (const Addr& addr : addrs) {
    for (unsigned w : {16u, 32u, 64u}) {
      Form f;
      Opnd d = R(kRcx, w);
      f.name = FormName("lea", {OpName(d), addr.text});
      auto mem = addr.mem;
      f.emit = [d, mem](x::Assembler& a, const Case& c) {
        x::Mem m = mem(static_cast<int32_t>(c.imm));
        a.emit(Inst::kIdLea, d.ToAsm(), m);
      };
      f.prepare = [](Case& c, Rng& rng, Check&) {
        if (rng.Below(2)) c.imm = static_cast<int8_t>(c.imm);  // disp8 encodings too
      };
      forms.push_back(f);
    }
  }
  // [rsi*8 + disp32]: SIB with no base (mod 00, base 101), as raw bytes.
  for (unsigned w : {16u, 32u, 64u}) {
    Form f;
    f.name = FormName("lea", {OpName(R(kRcx, w)), "[rsi*8+disp32]"});
    f.emit = [w](x::Assembler& a, const Case& c) {
      if (w == 16) a.db(0x66);
      if (w == 64) a.db(0x48);
      a.db(0x8D);
      a.db(0x0C);
      a.db(0xF5);
      a.dd(static_cast<uint32_t>(c.imm));
    };
    forms.push_back(f);
  }
  return forms;
}

// CMPXCHG8B m64: EDX:EAX against memory, ECX:EBX stored when equal (RBX
// also holds the buffer pointer, which is fine: both sides see the same).
std::vector<Form> Cmpxchg8bForms() {
  std::vector<Form> forms;
  for (bool lock : {false, true}) {
    Form f;
    f.name = "cmpxchg8b m64";
    f.flags = kArith;  // ZF set or cleared; the others unaffected
    f.emit = [](x::Assembler& a, const Case&) { a.cmpxchg8b(x::qword_ptr(x::rbx, kMemDisp), x::edx, x::eax, x::ecx, x::ebx); };
    f.prepare = [](Case& c, Rng& rng, Check&) {
      if (rng.Below(2)) {
        uint64_t m = Get(c, M(64));
        c.in.gpr[kRax] = (c.in.gpr[kRax] & ~0xFFFFFFFFull) | (m & 0xFFFFFFFF);
        c.in.gpr[kRdx] = (c.in.gpr[kRdx] & ~0xFFFFFFFFull) | (m >> 32);
      }
    };
    forms.push_back(lock ? Locked(f) : f);
  }
  return forms;
}

TEST(DiffMove, Mov) { RunForms("mov", MovForms()); }
TEST(DiffMove, Cmpxchg8b) { RunForms("cmpxchg8b", Cmpxchg8bForms()); }
TEST(DiffMove, ExchangeXaddCmpxchg) { RunForms("xchg/xadd/cmpxchg", ExchangeForms()); }
TEST(DiffMove, ExtendAndConvert) { RunForms("movzx/movsx/cbw", ExtendForms()); }
TEST(DiffMove, SetccCmovcc) { RunForms("setcc/cmovcc", ConditionForms()); }
TEST(DiffMove, LahfSahf) { RunForms("lahf/sahf", FlagByteForms()); }
TEST(DiffMove, Lea) { RunForms("lea", LeaForms()); }

}  // namespace
}  // namespace tandem::difftest
