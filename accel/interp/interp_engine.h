// The interpreter accelerators: execute guest code by decoding each
// instruction once with Zydis and running the cached decoded form, and
// optionally translating 64-bit code into host code (accel/interp/jit.h).
// TANDEM_PLANT_FAULT=ENGINE:FAULT makes one handler of that engine wrong on
// purpose, to show that `tandem lockstep` finds it: inc-pf (INC inverts PF),
// cld-df (CLD sets DF); e.g. TANDEM_PLANT_FAULT=interp:inc-pf.
#pragma once

#include <cstddef>
#include <memory>

#include "accel/accelerator.h"
#include "accel/interp/slice.h"

namespace tandem::accel::interp {

// The interpreter alone ("interp") or with the JIT translating 64-bit code
// ("jit"); every vCPU of the machine runs on its own Cpu and state.
Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board, bool with_jit = false);
// Whether the JIT can run on this host, with the reason when not.
Availability ProbeJit();
// Instructions a vCPU from CreateMachine has run inside JIT blocks so far
// (0 for any other engine); tests use it to see that code ran in the JIT.
uint64_t InstructionsInJitBlocks(const Vcpu& vcpu);

class Cpu;

// One interpreter vCPU driven a slice at a time by `tandem lockstep`, which
// owns time: it advances the board's clock and polls the board between
// slices, so two of them on two boards see the same device inputs.
class SliceVcpu {
 public:
  static Result<std::unique_ptr<SliceVcpu>> Create(hw::Board& board, bool with_jit);
  ~SliceVcpu();
  std::string_view name() const;
  x86::CpuState& state() { return *state_; }
  void SetState(const x86::CpuState& state);
  // See Cpu::RunSlice (cpu.h).
  SliceEnd RunSlice(uint64_t budget, SliceOptions options = {});
  uint64_t instructions_retired() const;
  uint64_t faults_delivered() const;
  bool interrupt_shadow() const;
  // Up to `n` bytes of code at a linear address, as an instruction fetch at
  // the current privilege sees them; fewer where the fetch would fault.
  size_t ReadCode(uint64_t linear, uint8_t* out, size_t n);

 private:
  SliceVcpu(hw::Board& board, bool with_jit);
  std::unique_ptr<x86::CpuState> state_;
  std::unique_ptr<Cpu> cpu_;
};

}  // namespace tandem::accel::interp
