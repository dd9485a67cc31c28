// The interpreter engine behind the accelerator interface: the machine holds
// the board; each vCPU is a Cpu running directly on its own x86::CpuState.
#include "accel/interp/interp_engine.h"

#include "accel/interp/cpu.h"
#include "accel/interp/jit.h"

namespace tandem::accel::interp {

namespace {

class InterpVcpu final : public Vcpu {
 public:
  InterpVcpu(hw::Board& board, int index, bool with_jit)
      : index_(index), state_(x86::ResetState()), cpu_(board, state_) {
    if (with_jit) cpu_.EnableJit();
  }

  int index() const override { return index_; }
  void SetState(const x86::CpuState& state) override {
    state_ = state;
    cpu_.interrupt_shadow = false;
    // The new state may page differently (a reset, another engine's state):
    // no translation from before survives, in the TLB or the JIT's slots.
    cpu_.FlushTlb(/*include_global=*/true);
    cpu_.SyncA20();
    // The guest's TSC continues from state.tsc (the epoch is set at first use).
    cpu_.sys_.tsc_epoch_set = false;
    UpdateDebugState(cpu_);
  }
  // CpuState::tsc is the TSC as the guest would read it now.
  x86::CpuState GetState() override {
    x86::CpuState s = state_;
    if (cpu_.sys_.tsc_epoch_set) s.tsc += cpu_.board.clock().NowNs() - cpu_.sys_.tsc_epoch_ns;
    return s;
  }
  RunOutcome Run() override { return cpu_.Run(); }
  void Kick() override { cpu_.kick.Set(); }
  uint64_t instructions_retired() const override { return cpu_.instructions_retired(); }
  const Jit* jit() const { return cpu_.jit(); }
  std::string stats() const override {
    const Jit* jit = cpu_.jit();
    if (!jit) return "";
    const Jit::Stats& st = jit->stats();
    return std::to_string(st.blocks_compiled) + " blocks translated (" + std::to_string(st.guest_insns_translated) +
           " instructions), " + std::to_string(st.blocks_invalidated) + " dropped by code writes, " +
           std::to_string(st.instructions_in_blocks) + " instructions run in blocks";
  }

 private:
  int index_;
  x86::CpuState state_;
  Cpu cpu_;
};

class InterpMachine final : public Machine {
 public:
  InterpMachine(hw::Board& board, bool with_jit) : board_(board), with_jit_(with_jit) {}

  std::string_view name() const override { return with_jit_ ? "jit" : "interp"; }
  Result<std::unique_ptr<Vcpu>> CreateVcpu(int index) override {
    if (index != 0) return Status::Error("vCPU " + std::to_string(index) + ": the board has one CPU");
    return std::unique_ptr<Vcpu>(std::make_unique<InterpVcpu>(board_, index, with_jit_));
  }

 private:
  hw::Board& board_;
  bool with_jit_;
};

}  // namespace

Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board, bool with_jit) {
  if (with_jit) {
    Availability a = ProbeJit();
    if (!a.available) return Status::Error("jit: " + a.reason);
  }
  return std::unique_ptr<Machine>(std::make_unique<InterpMachine>(board, with_jit));
}

uint64_t InstructionsInJitBlocks(const Vcpu& vcpu) {
  const auto* interp = dynamic_cast<const InterpVcpu*>(&vcpu);
  const Jit* jit = interp ? interp->jit() : nullptr;
  return jit ? jit->stats().instructions_in_blocks : 0;
}

Availability ProbeJit() {
  std::string why;
  if (!Jit::HostSupported(&why)) return Availability{false, why};
  return Availability{true, ""};
}

}  // namespace tandem::accel::interp
