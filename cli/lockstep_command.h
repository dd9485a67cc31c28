// `tandem lockstep`: runs one guest on two engines, each on its own board,
// both driven by a virtual clock that advances with retired instructions so
// that their devices give identical inputs, and compares the complete CPU
// state after every slice (and guest RAM periodically). At a divergence it
// prints where, both register files, the last instructions and the memory
// bytes that differ.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::cli {

struct LockstepOptions {
  std::string accel = "interp,jit";
  // Instructions between clock ticks and state comparisons; 1 compares after
  // every instruction or translated block.
  uint64_t every = 1;
  uint64_t memory_every = 1ull << 24;  // instructions between whole-RAM comparisons
  unsigned context = 8;                // instructions disassembled at a divergence
  bool strict_flags = false;           // undefined RFLAGS bits count as a divergence
  std::vector<std::string> run_args;   // RUN-OPTIONS after `--`
};

void AddLockstepOptions(CLI::App& command, LockstepOptions& opt);

// Exit status 0 when the engines agree to the end of the run, 1 at a
// divergence, 2 for bad input, 124 when --timeout (host seconds) expires.
int Lockstep(const LockstepOptions& opt);

}  // namespace tandem::cli
