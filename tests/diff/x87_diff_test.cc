// x87 against the host: register-stack arithmetic, compares (FSW and, for
// FCOMI/FUCOMI, EFLAGS), constants, FXCH/FLD/FST(P) st(i), FCMOVcc,
// transcendentals, and loads/stores through [rbx+0x10]. The state goes in
// and out through FXRSTOR/FXSAVE; inputs are random stacks (TOP, tags,
// edge encodings) under random precision and rounding control, every
// exception masked. FSW condition codes the SDM leaves undefined (C0/C2/C3
// after arithmetic, C0/C3 after FPTAN/FSIN/...) are not compared.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

constexpr uint16_t kC0 = 1 << 8, kC2 = 1 << 10, kC3 = 1 << 14;
constexpr uint16_t kArithUndefined = kC0 | kC2 | kC3;
// FCOMI/FUCOMI(P): the SDM clears C1, AMD hosts leave it: vendor-specific.
constexpr uint16_t kFcomiUndefined = 1 << 9;
// FCMOVcc: C1 is defined only on stack underflow, C0/C2/C3 undefined.
constexpr uint16_t kFcmovUndefined = kC0 | kC2 | kC3 | (1 << 9);

Form X87(const std::string& name, std::vector<uint8_t> bytes, uint16_t fsw_undefined = kArithUndefined) {
  Form f;
  f.name = name;
  f.x87 = true;
  f.fsw_undefined = fsw_undefined;
  f.emit = [bytes](x::Assembler& a, const Case&) { a.embed(bytes.data(), bytes.size()); };
  return f;
}

// ModRM for [rbx+disp8] with reg field n, then the displacement.
std::vector<uint8_t> Mem(uint8_t opcode, int n) { return {opcode, static_cast<uint8_t>(0x40 | (n << 3) | 3), kMemDisp}; }

std::vector<Form> X87Forms() {
  std::vector<Form> forms;
  const std::pair<const char*, uint8_t> st0_sti[] = {{"fadd", 0xC0}, {"fmul", 0xC8}, {"fsub", 0xE0},
                                                     {"fsubr", 0xE8}, {"fdiv", 0xF0}, {"fdivr", 0xF8}};
  for (auto [name, op] : st0_sti) {
    forms.push_back(X87(std::string(name) + " st0, st3", {0xD8, static_cast<uint8_t>(op + 3)}));
    forms.push_back(X87(std::string(name) + " st5, st0", {0xDC, static_cast<uint8_t>((op ^ ((op >= 0xE0) ? 0x08 : 0)) + 5)}));
    forms.push_back(X87(std::string(name) + "p st1, st0", {0xDE, static_cast<uint8_t>((op ^ ((op >= 0xE0) ? 0x08 : 0)) + 1)}));
    forms.push_back(X87(std::string(name) + " m32", Mem(0xD8, (op - 0xC0) >> 3)));
    forms.push_back(X87(std::string(name) + " m64", Mem(0xDC, (op - 0xC0) >> 3)));
    forms.push_back(X87(std::string("fi") + (name + 1) + " m32", Mem(0xDA, (op - 0xC0) >> 3)));
    forms.push_back(X87(std::string("fi") + (name + 1) + " m16", Mem(0xDE, (op - 0xC0) >> 3)));
  }
  const std::tuple<const char*, std::vector<uint8_t>, uint16_t> misc[] = {
      {"fchs", {0xD9, 0xE0}, kArithUndefined},      {"fabs", {0xD9, 0xE1}, kArithUndefined},
      {"ftst", {0xD9, 0xE4}, 0},                    {"fxam", {0xD9, 0xE5}, 0},
      {"fld1", {0xD9, 0xE8}, kArithUndefined},      {"fldl2t", {0xD9, 0xE9}, kArithUndefined},
      {"fldl2e", {0xD9, 0xEA}, kArithUndefined},    {"fldpi", {0xD9, 0xEB}, kArithUndefined},
      {"fldlg2", {0xD9, 0xEC}, kArithUndefined},    {"fldln2", {0xD9, 0xED}, kArithUndefined},
      {"fldz", {0xD9, 0xEE}, kArithUndefined},      {"fld st2", {0xD9, 0xC2}, kArithUndefined},
      {"fxch st4", {0xD9, 0xCC}, kArithUndefined},  {"fst st3", {0xDD, 0xD3}, kArithUndefined},
      {"fstp st1", {0xDD, 0xD9}, kArithUndefined},  {"ffree st2", {0xDD, 0xC2}, kArithUndefined | (1 << 9)},
      {"fincstp", {0xD9, 0xF7}, kArithUndefined},   {"fdecstp", {0xD9, 0xF6}, kArithUndefined},
      {"fsqrt", {0xD9, 0xFA}, kArithUndefined},     {"frndint", {0xD9, 0xFC}, kArithUndefined},
      {"fscale", {0xD9, 0xFD}, kArithUndefined},    {"fxtract", {0xD9, 0xF4}, kArithUndefined},
      {"fprem", {0xD9, 0xF8}, 0},                   {"fprem1", {0xD9, 0xF5}, 0},
      {"fcom st2", {0xD8, 0xD2}, 0},                {"fcomp st3", {0xD8, 0xDB}, 0},
      {"fcompp", {0xDE, 0xD9}, 0},                  {"fucom st1", {0xDD, 0xE1}, 0},
      {"fucomp st1", {0xDD, 0xE9}, 0},              {"fucompp", {0xDA, 0xE9}, 0},
      {"fcomi st0, st1", {0xDB, 0xF1}, kFcomiUndefined},          {"fucomi st0, st2", {0xDB, 0xEA}, kFcomiUndefined},
      {"fcomip st0, st1", {0xDF, 0xF1}, kFcomiUndefined},         {"fucomip st0, st3", {0xDF, 0xEB}, kFcomiUndefined},
      {"fcmovb st0, st1", {0xDA, 0xC1}, kFcmovUndefined},         {"fcmove st0, st2", {0xDA, 0xCA}, kFcmovUndefined},
      {"fcmovbe st0, st3", {0xDA, 0xD3}, kFcmovUndefined},        {"fcmovu st0, st4", {0xDA, 0xDC}, kFcmovUndefined},
      {"fcmovnb st0, st1", {0xDB, 0xC1}, kFcmovUndefined},        {"fcmovne st0, st2", {0xDB, 0xCA}, kFcmovUndefined},
      {"fcmovnbe st0, st3", {0xDB, 0xD3}, kFcmovUndefined},       {"fcmovnu st0, st4", {0xDB, 0xDC}, kFcmovUndefined},
      {"f2xm1", {0xD9, 0xF0}, kArithUndefined},     {"fyl2x", {0xD9, 0xF1}, kArithUndefined},
      {"fyl2xp1", {0xD9, 0xF9}, kArithUndefined},   {"fpatan", {0xD9, 0xF3}, kArithUndefined},
      {"fptan", {0xD9, 0xF2}, kC0 | kC3},           {"fsin", {0xD9, 0xFE}, kC0 | kC3},
      {"fcos", {0xD9, 0xFF}, kC0 | kC3},            {"fsincos", {0xD9, 0xFB}, kC0 | kC3},
      {"fnstsw ax", {0xDF, 0xE0}, 0},               {"fnclex", {0xDB, 0xE2}, kArithUndefined | (1 << 9)},
      {"fninit", {0xDB, 0xE3}, 0},                  {"fnop", {0xD9, 0xD0}, 0},
  };
  for (const auto& [name, bytes, undefined] : misc) forms.push_back(X87(name, bytes, undefined));
  const std::tuple<const char*, uint8_t, int> mem[] = {
      {"fld m32", 0xD9, 0},    {"fld m64", 0xDD, 0},    {"fld m80", 0xDB, 5},   {"fild m16", 0xDF, 0},
      {"fild m32", 0xDB, 0},   {"fild m64", 0xDF, 5},   {"fst m32", 0xD9, 2},   {"fstp m32", 0xD9, 3},
      {"fst m64", 0xDD, 2},    {"fstp m64", 0xDD, 3},   {"fstp m80", 0xDB, 7},  {"fist m16", 0xDF, 2},
      {"fistp m16", 0xDF, 3},  {"fist m32", 0xDB, 2},   {"fistp m32", 0xDB, 3}, {"fistp m64", 0xDF, 7},
      {"fcom m32", 0xD8, 2},   {"fcomp m64", 0xDC, 3},  {"ficom m16", 0xDE, 2}, {"ficomp m32", 0xDA, 3},
      {"fnstsw m16", 0xDD, 7}, {"fnstcw m16", 0xD9, 7}, {"fbstp m80", 0xDF, 6}, {"fbld m80", 0xDF, 4},
  };
  for (const auto& [name, opcode, n] : mem) {
    bool compare = std::string(name).find("com") != std::string::npos;
    bool store_env = std::string(name).find("fnst") != std::string::npos;
    forms.push_back(X87(name, Mem(opcode, n), compare || store_env ? 0 : kArithUndefined));
  }
  return forms;
}

TEST(DiffX87, X87) { RunForms("x87", X87Forms()); }

}  // namespace
}  // namespace tandem::difftest
