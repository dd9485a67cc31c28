// The interpreter engine behind the accelerator interface: one vCPU (Cpu)
// running directly on an engine-owned x86::CpuState.
#include "accel/interp/interp_engine.h"

#include "accel/interp/cpu.h"
#include "accel/interp/jit.h"

namespace tandem::accel::interp {

namespace {

class InterpEngine final : public Engine {
 public:
  InterpEngine(hw::Board& board, bool with_jit) : state_(x86::ResetState()), cpu_(board, state_) {
    if (with_jit) cpu_.EnableJit();
  }

  std::string_view name() const override { return cpu_.jit() ? "jit" : "interp"; }
  void SetState(const x86::CpuState& state) override {
    state_ = state;
    cpu_.interrupt_shadow = false;
    UpdateDebugState(cpu_);
  }
  x86::CpuState GetState() override { return state_; }
  RunOutcome Run() override { return cpu_.Run(); }
  uint64_t instructions_retired() const override { return cpu_.instructions_retired(); }
  std::string stats() const override {
    const Jit* jit = cpu_.jit();
    if (!jit) return "";
    const Jit::Stats& st = jit->stats();
    return std::to_string(st.blocks_compiled) + " blocks translated (" + std::to_string(st.guest_insns_translated) +
           " instructions), " + std::to_string(st.blocks_invalidated) + " dropped by code writes, " +
           std::to_string(st.instructions_in_blocks) + " instructions run in blocks, " +
           std::to_string(st.cache_flushes) + " code-cache flushes";
  }

 private:
  x86::CpuState state_;
  Cpu cpu_;
};

}  // namespace

Result<std::unique_ptr<Engine>> CreateEngine(hw::Board& board, bool with_jit) {
  if (with_jit) {
    Availability a = ProbeJit();
    if (!a.available) return Status::Error("jit: " + a.reason);
  }
  return std::unique_ptr<Engine>(std::make_unique<InterpEngine>(board, with_jit));
}

Availability ProbeJit() {
  std::string why;
  if (!Jit::HostSupported(&why)) return Availability{false, why};
  return Availability{true, ""};
}

}  // namespace tandem::accel::interp
