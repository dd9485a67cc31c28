// The interpreter engine behind the accelerator interface: one vCPU (Cpu)
// running directly on an engine-owned x86::CpuState.
#include "accel/interp/interp_engine.h"

#include "accel/interp/cpu.h"

namespace tandem::accel::interp {

namespace {

class InterpEngine final : public Engine {
 public:
  explicit InterpEngine(hw::Board& board) : state_(x86::ResetState()), cpu_(board, state_) {}

  std::string_view name() const override { return "interp"; }
  void SetState(const x86::CpuState& state) override {
    state_ = state;
    cpu_.interrupt_shadow = false;
  }
  x86::CpuState GetState() override { return state_; }
  RunOutcome Run() override { return cpu_.Run(); }
  uint64_t instructions_retired() const override { return cpu_.instructions_retired(); }

 private:
  x86::CpuState state_;
  Cpu cpu_;
};

}  // namespace

Result<std::unique_ptr<Engine>> CreateEngine(hw::Board& board) {
  return std::unique_ptr<Engine>(std::make_unique<InterpEngine>(board));
}

}  // namespace tandem::accel::interp
