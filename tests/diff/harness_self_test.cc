// The harness itself: a guest that runs a different instruction than the
// host must be caught through registers, flags and memory alike, and a
// faulting guest instruction must be reported.
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

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

// Under TANDEM_DIFF_ENGINE=jit (the jit. twins) a case whose instruction
// ran on the interpreter instead, here because EFLAGS.AC keeps the JIT out,
// fails: the jit. tests would otherwise pass without testing the JIT.
TEST(DiffHarness, JitCaseOutsideAJitBlockFails) {
  if (!GuestUsesJit()) GTEST_SKIP() << "checks the jit. runs only (TANDEM_DIFF_ENGINE=jit)";
  Form f;
  f.name = "self-test";
  f.emit = [](x::Assembler& a, const Case&) { a.add(x::ecx, x::edx); };
  EXPECT_TRUE(EvaluateForm(f, 50, nullptr).passed());
  f.prepare = [](Case& c, Rng&, Check&) { c.guest_system_flags |= x86::kFlagAc; };
  std::string details;
  EXPECT_FALSE(EvaluateForm(f, 50, &details).passed());
  EXPECT_NE(details.find("did not run in a JIT block"), std::string::npos) << details;
}

// Whether a child far-calling "mov eax, 0x1234; retf" in selector 0x23 comes
// back with EAX set: hand-written bytes, independent of the harness's runner.
bool ChildRunsCompat32Code() {
  constexpr size_t kPage = 4096;
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (p == MAP_FAILED) {
    ADD_FAILURE() << "mmap of a low page failed";
    return false;
  }
  uint8_t* page = static_cast<uint8_t*>(p);
  const uint32_t base = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(page));
  auto abs32 = [](uint32_t v) { return std::vector<uint8_t>{uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; };
  const uint32_t code32 = base + 0x40, far_ptr = base + 0x80, saved_rsp = base + 0x90, stack_top = base + 2 * kPage - 16;
  std::vector<uint8_t> code = {0x48, 0x89, 0x24, 0x25};  // mov [saved_rsp], rsp
  for (uint8_t b : abs32(saved_rsp)) code.push_back(b);
  code.push_back(0xBC);  // mov esp, stack_top
  for (uint8_t b : abs32(stack_top)) code.push_back(b);
  code.insert(code.end(), {0xFF, 0x1C, 0x25});  // call far [far_ptr] (m16:32)
  for (uint8_t b : abs32(far_ptr)) code.push_back(b);
  code.insert(code.end(), {0x48, 0x8B, 0x24, 0x25});  // mov rsp, [saved_rsp]
  for (uint8_t b : abs32(saved_rsp)) code.push_back(b);
  code.push_back(0xC3);  // ret
  std::memcpy(page, code.data(), code.size());
  const uint8_t body32[] = {0xB8, 0x34, 0x12, 0x00, 0x00, 0xCB};  // mov eax, 0x1234; retf
  std::memcpy(page + 0x40, body32, sizeof body32);
  std::memcpy(page + 0x80, &code32, 4);
  const uint16_t selector = kLinuxUser32Cs;
  std::memcpy(page + 0x84, &selector, 2);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);  // as in ProbeCompat32: die by the signal under ASan too
    signal(SIGBUS, SIG_DFL);
    alarm(10);
    uint32_t eax = reinterpret_cast<uint32_t (*)()>(page)();
    _exit(eax == 0x1234 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  munmap(p, 2 * kPage);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(DiffHarness, Compat32ProbeAgreesWithAChildRunningCompat32Code) {
  const HostSupport& probe = HostCompat32();
  const bool child = ChildRunsCompat32Code();
  EXPECT_EQ(probe.ok, child) << "probe: " << (probe.ok ? "runs" : probe.reason);
  if (!probe.ok) {
    EXPECT_NE(probe.reason.find("this host kernel refuses 32-bit user code"), std::string::npos);
  }
}

// A far call to a data segment (Linux's __USER_DS, 0x2B) faults on every
// host: the probe must survive it and name the fault.
TEST(DiffHarness, Compat32ProbeReportsAFaultingFarCall) {
  HostSupport s = ProbeCompat32(0x2B);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("a far call to selector 0x2b faults (SIGSEGV"), std::string::npos) << s.reason;
}

}  // namespace
}  // namespace tandem::difftest
