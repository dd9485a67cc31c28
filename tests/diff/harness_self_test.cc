// The harness itself: a guest that runs a different instruction than the
// host must be caught through registers, flags and memory alike, and a
// faulting guest instruction must be reported.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

FormResult Mismatched(std::function<void(x::Assembler&, const Case&)> host,
                      std::function<void(x::Assembler&, const Case&)> guest, uint64_t flags = kArith) {
  Form f;
  f.name = "self-test";
  f.emit = std::move(host);
  f.guest_emit = std::move(guest);
  f.flags = flags;
  return EvaluateForm(f, 200, nullptr);
}

TEST(DiffHarness, SameInstructionMatches) {
  FormResult r = Mismatched([](x::Assembler& a, const Case&) { a.add(x::ecx, x::edx); },
                            [](x::Assembler& a, const Case&) { a.add(x::ecx, x::edx); });
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.cases, 200u);
}

TEST(DiffHarness, CatchesRegisterDifference) {
  EXPECT_FALSE(Mismatched([](x::Assembler& a, const Case&) { a.mov(x::r15, 1); },
                          [](x::Assembler& a, const Case&) { a.mov(x::r15, 2); })
                   .passed());
}

TEST(DiffHarness, CatchesFlagDifferenceOnlyWhenCompared) {
  auto stc = [](x::Assembler& a, const Case&) { a.stc(); };
  auto clc = [](x::Assembler& a, const Case&) { a.clc(); };
  EXPECT_FALSE(Mismatched(stc, clc).passed());
  EXPECT_TRUE(Mismatched(stc, clc, kArith & ~x86::kFlagCf).passed());
}

TEST(DiffHarness, CatchesMemoryDifference) {
  EXPECT_FALSE(Mismatched([](x::Assembler& a, const Case&) { a.mov(x::byte_ptr(x::rbx, kMemDisp), 1); },
                          [](x::Assembler& a, const Case&) { a.mov(x::byte_ptr(x::rbx, kMemDisp + 1), 1); })
                   .passed());
}

TEST(DiffHarness, CatchesXmmDifference) {
  EXPECT_FALSE(Mismatched([](x::Assembler& a, const Case&) { a.pxor(x::xmm3, x::xmm3); },
                          [](x::Assembler& a, const Case&) { a.pcmpeqd(x::xmm3, x::xmm3); })
                   .passed());
}

TEST(DiffHarness, CatchesX87Difference) {
  EXPECT_FALSE(Mismatched([](x::Assembler& a, const Case&) { a.fld1(); },
                          [](x::Assembler& a, const Case&) { a.fldz(); })
                   .passed());
  EXPECT_TRUE(Mismatched([](x::Assembler& a, const Case&) { a.fld1(); },
                         [](x::Assembler& a, const Case&) { a.fld1(); })
                  .passed());
}

TEST(DiffHarness, GuestFaultIsReported) {
  Case c;
  c.in.gpr[x86::kRcx] = 0;
  Outcome out = RunGuestOnce({0x0F, 0x0B}, c);  // UD2
  EXPECT_EQ(out.vector, x86::kUD);
  EXPECT_EQ(out.regs.gpr[x86::kRcx], 0u);
}

}  // namespace
}  // namespace tandem::difftest
