// Differential testing of the interpreter against the host CPU: every case of
// an instruction form runs natively (an asmjit-built wrapper loads the
// registers and RFLAGS, runs the instruction bytes, stores them back) and on
// the interpreter (the same bytes in a 64-bit long-mode guest that stops on
// an OUT to a test port). Registers, the flags the SDM (vol. 2) defines for
// the instruction, and the memory operand buffer must agree.
//
// The memory buffer lives at one host address; the guest's page tables map
// the same linear address to guest RAM, so pointers in registers are equal on
// both sides and RSI/RDI/RBX compare exactly.
#pragma once

#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "target-x86/cpu_state.h"

namespace tandem::difftest {

inline constexpr size_t kMemSize = 1024;  // the memory operand buffer
inline constexpr uint64_t kArith = x86::kArithFlags;
inline constexpr uint64_t kDf = x86::kFlagDf;

// The registers a case loads and stores (layout used by the native wrapper).
struct Regs {
  std::array<uint64_t, 16> gpr{};
  uint64_t rflags = 2;
  // x87, XMM and MXCSR as FXSAVE lays them out (loaded with FXRSTOR on the
  // host). Every exception stays masked: unmasked ones would be SIGFPE.
  x86::FxState fx{};
};
static_assert(offsetof(Regs, rflags) == 128);
static_assert(offsetof(Regs, fx) == 144);

struct Case {
  Regs in;
  std::array<uint8_t, kMemSize> mem{};
  int64_t imm = 0;  // immediate / displacement for forms that take one
  // RFLAGS bits set on the guest only (NT, IOPL, AC, VIF, VIP, ID: no effect
  // on these instructions at CPL 0); they must come back unchanged.
  uint64_t guest_system_flags = 0;
};
inline constexpr uint64_t kGuestSystemFlags = x86::kFlagNt | x86::kFlagIopl | x86::kFlagAc | x86::kFlagVif |
                                              x86::kFlagVip | x86::kFlagId;

// What a case compares; a form's prepare() may narrow it for its inputs.
struct Check {
  uint64_t flags = kArith;
  std::array<uint64_t, 16> gpr_mask{};  // bits compared per register (RSP never)
  bool skip = false;                    // inputs where the SDM leaves the result undefined
  uint16_t fsw_mask = 0xFFFF;           // FSW bits compared
};

struct Outcome {
  Regs regs;
  std::array<uint8_t, kMemSize> mem{};
  int vector = -1;  // guest exception raised, -1 for none
  uint64_t fault_rip = 0;  // with vector: the RIP the exception pushed
  uint64_t rip = 0;
  std::string error;  // the engine stopped for another reason
  bool in_jit_block = false;  // some of it ran in a JIT block (TANDEM_DIFF_ENGINE=jit)
};

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t s_[4];
};

// A value that is random half the time and otherwise an edge value of a
// random operand size (0, 1, -1, 0x7F.., 0x80.., ...) or a small count.
uint64_t RandomValue(Rng& rng);

// The buffer's address, equal in the host and the guest.
uint64_t MemBase();

// An operand of a form: a register of some size or the memory operand
// [rbx + kMemDisp] (RBX is pointed into the buffer by the harness).
struct Opnd {
  bool mem = false;
  int reg = 0;
  bool high8 = false;  // AH, CH, DH, BH
  unsigned bits = 64;
  asmjit::Operand ToAsm() const;
  std::string Name() const;
};
inline constexpr int32_t kMemDisp = 0x10;
inline Opnd R(int reg, unsigned bits) { return Opnd{false, reg, false, bits}; }
inline Opnd RHi(int reg) { return Opnd{false, reg, true, 8}; }  // reg 0..3: AH..BH
inline Opnd M(unsigned bits) { return Opnd{true, 0, false, bits}; }

// The operand's value in a case's inputs, and writing it back.
uint64_t Get(const Case& c, const Opnd& o);
void Set(Case& c, const Opnd& o, uint64_t v);
// Offset in the buffer of the memory operand (after the harness set RBX).
size_t MemOffset(const Case& c);

inline uint64_t WidthMask(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

struct Form {
  std::string name;
  // Emits the instruction under test; may use c.imm.
  std::function<void(asmjit::x86::Assembler& a, const Case& c)> emit;
  // Adjusts inputs after the random fill (counts, pointers, #DE avoidance)
  // and narrows what is compared. RBX already points into the buffer.
  std::function<void(Case& c, Rng& rng, Check& check)> prepare;
  uint64_t flags = kArith;  // flags the SDM defines (others are masked)
  bool vary_df = false;     // string forms: DF is an input
  bool sse = false;         // random XMM registers and MXCSR rounding/FTZ/DAZ as inputs
  bool x87 = false;         // random x87 stack, tags, TOP, precision and rounding as inputs
  // FSW condition codes the SDM leaves undefined after the instruction.
  uint16_t fsw_undefined = 0;
  unsigned weight = 1;      // runs weight * CasesPerForm() cases (random-encoding forms)
  // Bytes put before the instruction on the guest only (e.g. F3 to run
  // LZCNT's encoding on a CPU model without LZCNT, where it is BSR).
  std::vector<uint8_t> guest_prefix;
  // Runs in 32-bit compatibility mode on both sides (no memory operand; only
  // EAX..EDI compared).
  bool compat32 = false;
  // Replaces emit on the guest side only (harness self-tests).
  std::function<void(asmjit::x86::Assembler& a, const Case& c)> guest_emit;
};

struct FormResult {
  std::string name;
  uint64_t cases = 0;
  uint64_t skipped = 0;
  uint64_t mismatches = 0;
  bool passed() const { return mismatches == 0 && cases > 0; }
};

// Runs `cases` cases of a form; the first few mismatches are described in
// *details. Stops after a few mismatches.
// With compat_twin, only cases whose bytes mean the same in 32-bit code run,
// with the guest in compatibility mode (TANDEM_DIFF_ENGINE=jit32, see RunForms).
FormResult EvaluateForm(const Form& form, uint64_t cases, std::string* details, bool compat_twin = false);

// Cases per form: TANDEM_DIFF_CASES or the default.
uint64_t CasesPerForm();

// Runs every form (a gtest failure per failing form with the first few
// mismatches in detail), prints a line per form and records the totals.
void RunForms(const std::string& family, const std::vector<Form>& forms);

// Linux's 32-bit user code segment (__USER32_CS), where the native side runs
// the compat32 forms.
inline constexpr uint16_t kLinuxUser32Cs = 0x23;

// Whether the host runs 32-bit code: some host kernels fault a far call into
// a 32-bit code segment. reason names the cause when not.
struct HostSupport {
  bool ok = false;
  std::string reason;
};
// Far-calls INC EAX in the code segment `selector` in a forked child.
HostSupport ProbeCompat32(uint16_t selector);
// ProbeCompat32(kLinuxUser32Cs), probed once; RunForms skips the compat32
// forms (GTEST_SKIP with the reason) when it is not ok.
const HostSupport& HostCompat32();

// Whether the guest side runs through the JIT (TANDEM_DIFF_ENGINE=jit). Its
// cases keep EFLAGS.AC clear (the JIT leaves code with AC set to the
// interpreter), and a case whose instruction did not run in a JIT block
// fails: the jit. tests must test the JIT.
bool GuestUsesJit();

// Runs bytes once on the interpreter only (for fault checks); RSP is the
// harness's guest stack and RBX is left as given.
Outcome RunGuestOnce(const std::vector<uint8_t>& bytes, const Case& c, bool compat32 = false);
// Guest address of the instruction RunGuestOnce placed.
uint64_t LastGuestRip();

// Instruction bytes emitted by f.
std::vector<uint8_t> Assemble(const std::function<void(asmjit::x86::Assembler&)>& f);

// Intel-syntax text of the instruction at bytes (Zydis).
std::string Disassemble(const std::vector<uint8_t>& bytes, bool compat32 = false);

}  // namespace tandem::difftest
