// BT/BTS/BTR/BTC (register and memory bit strings), BSF/BSR, BSWAP, and the
// F3-prefixed encodings of LZCNT/TZCNT/POPCNT as a CPU behaves that does not
// advertise them (SDM vol. 2: LZCNT "on processors that do not support
// LZCNT, the instruction byte encoding is executed as BSR"; same for TZCNT
// and BSF; POPCNT raises #UD when CPUID.01H:ECX.POPCNT = 0).
#include "target-x86/cpuid.h"
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRcx;
using x86::kRdx;
using x86::kR10;

// BT* define CF only; ZF is unaffected; OF/SF/AF/PF are undefined.
constexpr uint64_t kBtFlags = x86::kFlagCf | x86::kFlagZf;

std::vector<Form> BitTestForms() {
  const std::pair<const char*, asmjit::InstId> ops[] = {
      {"bt", Inst::kIdBt}, {"bts", Inst::kIdBts}, {"btr", Inst::kIdBtr}, {"btc", Inst::kIdBtc}};
  std::vector<Form> forms;
  for (auto [name, id] : ops) {
    for (unsigned w : {16u, 32u, 64u}) {
      Opnd bit = R(kR10, w);
      // Register bit base: any offset (taken modulo the width).
      forms.push_back(Form2(name, id, R(kRdx, w), bit, kBtFlags));
      // Memory bit string: a signed offset of up to +-3000 bits from the operand.
      Form mr = Form2(name, id, M(w), bit, kBtFlags);
      mr.prepare = [bit, w](Case& c, Rng& rng, Check&) {
        int64_t off = static_cast<int64_t>(rng.Below(6001)) - 3000;
        if (rng.Below(4) == 0) off = static_cast<int64_t>(rng.Below(2 * w));
        uint64_t m = WidthMask(w);
        c.in.gpr[kR10] = (static_cast<uint64_t>(off) & m) | (RandomValue(rng) & ~m);
      };
      forms.push_back(mr);
      if (id != Inst::kIdBt) forms.push_back(Locked(mr));
      for (Opnd d : {R(kRdx, w), M(w)}) {
        Form f = Form2Imm(name, id, d, 8, kBtFlags);
        f.emit = [id, d](x::Assembler& a, const Case& c) { a.emit(id, d.ToAsm(), asmjit::Imm(c.imm & 0xFF)); };
        forms.push_back(f);
      }
    }
  }
  return forms;
}

// BSF/BSR: ZF defined; the destination is undefined for a zero source.
Form ScanForm(const char* name, asmjit::InstId id, Opnd d, Opnd s) {
  Form f = Form2(name, id, d, s, x86::kFlagZf);
  f.prepare = [d, s](Case& c, Rng& rng, Check& check) {
    if (rng.Below(8) == 0) Set(c, s, 0);
    if (rng.Below(4) == 0) Set(c, s, 1ull << rng.Below(s.bits));
    if (Get(c, s) == 0) check.gpr_mask[d.reg] = 0;
  };
  return f;
}

std::vector<Form> ScanForms() {
  std::vector<Form> forms;
  for (auto [name, id] : {std::pair{"bsf", Inst::kIdBsf}, std::pair{"bsr", Inst::kIdBsr}}) {
    for (unsigned w : {16u, 32u, 64u}) {
      forms.push_back(ScanForm(name, id, R(kRcx, w), R(kR10, w)));
      forms.push_back(ScanForm(name, id, R(kRcx, w), M(w)));
      forms.push_back(ScanForm(name, id, R(kRcx, w), R(kRcx, w)));
    }
  }
  for (Opnd r : {R(kRcx, 32), R(11, 32), R(kRdx, 64), R(12, 64)}) {
    forms.push_back(Form1("bswap", Inst::kIdBswap, r, kArith));
  }
  return forms;
}

bool Advertised(uint32_t leaf, bool ecx_of_leaf, uint32_t bit) {
  x86::CpuidResult r = x86::CpuidModel::Default().Query(leaf, 0);
  return ((ecx_of_leaf ? r.ecx : r.ebx) >> bit) & 1;
}

// LZCNT (F3 0F BD) and TZCNT (F3 0F BC) on the guest against BSR/BSF on the
// host, while the CPUID model advertises neither ABM/LZCNT nor BMI1.
std::vector<Form> RepScanForms() {
  std::vector<Form> forms;
  bool lzcnt = Advertised(0x80000001, true, 5);
  bool bmi1 = Advertised(7, false, 3);
  for (unsigned w : {16u, 32u, 64u}) {
    if (!lzcnt) {
      Form f = ScanForm("bsr", Inst::kIdBsr, R(kRcx, w), R(kR10, w));
      f.name = "F3 " + f.name + " (lzcnt encoding)";
      f.guest_prefix = {0xF3};
      forms.push_back(f);
    }
    if (!bmi1) {
      Form f = ScanForm("bsf", Inst::kIdBsf, R(kRcx, w), M(w));
      f.name = "F3 " + f.name + " (tzcnt encoding)";
      f.guest_prefix = {0xF3};
      forms.push_back(f);
    }
  }
  return forms;
}

TEST(DiffBits, BitTests) { RunForms("bt", BitTestForms()); }
TEST(DiffBits, BitScansAndBswap) { RunForms("bsf/bsr/bswap", ScanForms()); }
TEST(DiffBits, LzcntTzcntEncodingsWithoutTheFeature) {
  std::vector<Form> forms = RepScanForms();
  if (forms.empty()) GTEST_SKIP() << "the CPUID model advertises LZCNT and TZCNT";
  RunForms("lzcnt/tzcnt as bsr/bsf", forms);
}

}  // namespace
}  // namespace tandem::difftest
