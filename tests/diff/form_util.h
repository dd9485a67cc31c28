// Helpers shared by the form tables: building forms from asmjit instruction
// ids and operands, immediates narrowed to what an encoding takes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tests/diff/diff_harness.h"

namespace tandem::difftest {

namespace Inst = asmjit::x86::Inst;

inline const unsigned kWidths[] = {8, 16, 32, 64};

// The immediate an instruction of `bits` takes, sign-extended (imm8/16/32).
inline int64_t NarrowImm(int64_t v, unsigned bits) {
  switch (bits) {
    case 8: return static_cast<int8_t>(v);
    case 16: return static_cast<int16_t>(v);
    default: return static_cast<int32_t>(v);
  }
}

inline std::string OpName(const Opnd& o) {
  if (o.mem) return "m" + std::to_string(o.bits);
  static const char* const q[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
  static const char* const b[] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
  static const char* const h[] = {"ah", "ch", "dh", "bh"};
  static const char* const w[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
  if (o.high8) return h[o.reg];
  if (o.reg >= 8) {
    std::string n = "r" + std::to_string(o.reg);
    return o.bits == 8 ? n + "b" : o.bits == 16 ? n + "w" : o.bits == 32 ? n + "d" : n;
  }
  switch (o.bits) {
    case 8: return b[o.reg];
    case 16: return w[o.reg];
    case 32: return std::string("e") + (q[o.reg] + 1);
    default: return q[o.reg];
  }
}

// "mnemonic op0, op1" with the operands' names.
inline std::string FormName(const std::string& mnemonic, std::initializer_list<std::string> ops) {
  std::string s = mnemonic;
  bool first = true;
  for (const std::string& o : ops) {
    s += (first ? " " : ", ") + o;
    first = false;
  }
  return s;
}

inline Form Form1(const std::string& mn, asmjit::InstId id, Opnd d, uint64_t flags) {
  Form f;
  f.name = FormName(mn, {OpName(d)});
  f.emit = [id, d](asmjit::x86::Assembler& a, const Case&) { a.emit(id, d.ToAsm()); };
  f.flags = flags;
  return f;
}

inline Form Form2(const std::string& mn, asmjit::InstId id, Opnd d, Opnd s, uint64_t flags) {
  Form f;
  f.name = FormName(mn, {OpName(d), OpName(s)});
  f.emit = [id, d, s](asmjit::x86::Assembler& a, const Case&) { a.emit(id, d.ToAsm(), s.ToAsm()); };
  f.flags = flags;
  return f;
}

// op d, imm with a random immediate narrowed to imm_bits.
inline Form Form2Imm(const std::string& mn, asmjit::InstId id, Opnd d, unsigned imm_bits, uint64_t flags) {
  Form f;
  f.name = FormName(mn, {OpName(d), "imm" + std::to_string(imm_bits)});
  f.emit = [id, d, imm_bits](asmjit::x86::Assembler& a, const Case& c) {
    a.emit(id, d.ToAsm(), asmjit::Imm(NarrowImm(c.imm, imm_bits)));
  };
  f.flags = flags;
  return f;
}

// The same form with a LOCK prefix (memory destinations only).
inline Form Locked(Form f) {
  f.name = "lock " + f.name;
  f.emit = [emit = f.emit](asmjit::x86::Assembler& a, const Case& c) {
    a.lock();
    emit(a, c);
  };
  return f;
}

// Runs prepare steps in order.
inline std::function<void(Case&, Rng&, Check&)> Steps(std::vector<std::function<void(Case&, Rng&, Check&)>> steps) {
  return [steps = std::move(steps)](Case& c, Rng& rng, Check& check) {
    for (auto& s : steps) {
      if (s) s(c, rng, check);
    }
  };
}

}  // namespace tandem::difftest
