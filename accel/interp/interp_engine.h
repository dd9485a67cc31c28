// The interpreter accelerators: execute guest code by decoding each
// instruction once with Zydis and running the cached decoded form, and
// optionally translating 64-bit code into host code (accel/interp/jit.h).
#pragma once

#include <memory>

#include "accel/accelerator.h"

namespace tandem::accel::interp {

// The interpreter alone ("interp") or with the JIT translating 64-bit code
// ("jit"); every vCPU of the machine runs on its own Cpu and state.
Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board, bool with_jit = false);
// Whether the JIT can run on this host, with the reason when not.
Availability ProbeJit();
// Instructions a vCPU from CreateMachine has run inside JIT blocks so far
// (0 for any other engine); tests use it to see that code ran in the JIT.
uint64_t InstructionsInJitBlocks(const Vcpu& vcpu);

}  // namespace tandem::accel::interp
