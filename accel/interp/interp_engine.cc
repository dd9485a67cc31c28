// The interpreter engine behind the accelerator interface: the machine holds
// the board; each vCPU is a Cpu running directly on its own x86::CpuState.
#include "accel/interp/interp_engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "accel/interp/atomic.h"
#include "accel/interp/cpu.h"
#include "accel/interp/jit.h"

namespace tandem::accel::interp {

namespace {

// The fault TANDEM_PLANT_FAULT asks for on this engine, read when an engine
// is created; unknown names plant nothing and say so once.
PlantedFault PlantedFaultFromEnvironment(std::string_view engine) {
  const char* spec = std::getenv("TANDEM_PLANT_FAULT");
  if (!spec || !*spec) return PlantedFault::kNone;
  std::string_view s(spec);
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || s.substr(0, colon) != engine) return PlantedFault::kNone;
  if (s.substr(colon + 1) == "inc-pf") return PlantedFault::kIncParity;
  if (s.substr(colon + 1) == "cld-df") return PlantedFault::kCldSetsDf;
  std::fprintf(stderr, "tandem: TANDEM_PLANT_FAULT=%s: unknown fault (known: inc-pf, cld-df)\n", spec);
  return PlantedFault::kNone;
}

class InterpVcpu final : public Vcpu {
 public:
  // CPU 0 starts at the reset vector; the others wait for a startup IPI.
  InterpVcpu(hw::Board& board, LockedAccessDomain& locked, int index, bool with_jit)
      : index_(index),
        state_(index == 0 ? x86::ResetState() : x86::WaitForSipiState()),
        cpu_(board, state_, index, &locked) {
    if (with_jit) cpu_.EnableJit();
    cpu_.planted_fault = PlantedFaultFromEnvironment(with_jit ? "jit" : "interp");
    Cpu* cpu = &cpu_;
    cpu_.socket.SetCpuLinks({[cpu] { cpu->kick.Wake(); }, [cpu] { cpu->startup_.Init(); },
                             [cpu](uint8_t vector) { cpu->startup_.Startup(vector); }});
  }
  ~InterpVcpu() override { cpu_.socket.SetCpuLinks({}); }

  int index() const override { return index_; }
  void SetState(const x86::CpuState& state) override {
    state_ = state;
    cpu_.socket.set_stuck(false);  // until its run loop looks at the new state
    // The new state may page differently (a reset, another engine's state):
    // no translation from before survives.
    cpu_.StateReplaced();
    // The guest's TSC continues from state.tsc (the epoch is set at first use).
    cpu_.sys_.tsc_epoch_set = false;
  }
  // CpuState::tsc is the TSC as the guest would read it now. The local APIC
  // owns the TPR and IA32_APIC_BASE (a guest may change the TPR through the
  // APIC page too): the state shows them as it has them.
  x86::CpuState GetState() override {
    x86::CpuState s = state_;
    if (cpu_.sys_.tsc_epoch_set) s.tsc += cpu_.board.clock().NowNs() - cpu_.sys_.tsc_epoch_ns;
    s.cr8 = cpu_.socket.tpr() >> 4;
    s.msr.apic_base = cpu_.socket.apic_base();
    return s;
  }
  RunOutcome Run() override { return cpu_.Run(); }
  Status SetDebug(const DebugConfig& config) override {
    cpu_.debugger = config;
    cpu_.debugger_resuming = true;
    return Status();
  }
  bool can_run_slices() const override { return true; }
  RunOutcome RunSlice(uint64_t budget) override {
    if (cpu_.startup_.pending()) cpu_.TakeStartup();
    if (cpu_.UpdateStuck()) {
      if (cpu_.board.AllCpusStuck()) return RunOutcome{RunOutcome::Kind::kHalted, x86::DumpRegisters(state_)};
      return RunOutcome{RunOutcome::Kind::kSliceDone, "", true};
    }
    switch (cpu_.RunSlice(budget)) {
      case SliceEnd::kBudget: return RunOutcome{RunOutcome::Kind::kSliceDone, ""};
      case SliceEnd::kStop: return RunOutcome{RunOutcome::Kind::kBoardStop, ""};
      case SliceEnd::kTripleFault:
        return RunOutcome{RunOutcome::Kind::kTripleFault, "triple fault\n" + x86::DumpRegisters(state_)};
      case SliceEnd::kHalted:  // stuck or not, the next slice looks
        return RunOutcome{RunOutcome::Kind::kSliceDone, "", true};
    }
    return RunOutcome{RunOutcome::Kind::kSliceDone, ""};
  }
  void Kick() override { cpu_.kick.Set(); }
  uint64_t instructions_retired() const override { return cpu_.instructions_retired(); }
  const Jit* jit() const { return cpu_.jit(); }
  std::string stats() const override {
    const Jit* jit = cpu_.jit();
    if (!jit) return "";
    const Jit::Stats& st = jit->stats();
    return std::to_string(st.blocks_compiled) + " blocks translated (" + std::to_string(st.guest_insns_translated) +
           " instructions), " + std::to_string(st.blocks_invalidated) + " dropped by code writes, " +
           std::to_string(st.instructions_in_blocks) + " instructions run in blocks, " +
           std::to_string(st.cache_flushes) + " code-cache flushes, " + std::to_string(st.arena_bytes >> 10) +
           " KiB of code arena, " +
           std::to_string(st.jump_cache_flushes) + " jump-cache flushes, " + std::to_string(st.dispatches) +
           " block entries from the dispatcher, " + std::to_string(st.interpreted) + " instructions interpreted in blocks";
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
    if (index < 0 || index >= board_.cpu_count()) {
      return Status::Error("vCPU " + std::to_string(index) + ": the board has " + std::to_string(board_.cpu_count()) +
                           " CPUs");
    }
    return std::unique_ptr<Vcpu>(std::make_unique<InterpVcpu>(board_, locked_, index, with_jit_));
  }

 private:
  hw::Board& board_;
  bool with_jit_;
  // Shared by every vCPU of this machine: locked accesses that cannot be
  // host atomics (atomic.h). Outlives the vCPUs, as the machine does.
  LockedAccessDomain locked_;
};

}  // namespace

Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board, bool with_jit) {
  if (with_jit) {
    Availability a = ProbeJit();
    if (!a.available) return Status::Error("jit: " + a.reason);
  }
  return std::unique_ptr<Machine>(std::make_unique<InterpMachine>(board, with_jit));
}

SliceVcpu::SliceVcpu(hw::Board& board, bool with_jit)
    : state_(std::make_unique<x86::CpuState>(x86::ResetState())), cpu_(std::make_unique<Cpu>(board, *state_)) {
  if (with_jit) cpu_->EnableJit();
  cpu_->planted_fault = PlantedFaultFromEnvironment(name());
}

SliceVcpu::~SliceVcpu() = default;

Result<std::unique_ptr<SliceVcpu>> SliceVcpu::Create(hw::Board& board, bool with_jit) {
  if (with_jit) {
    Availability a = ProbeJit();
    if (!a.available) return Status::Error("jit: " + a.reason);
  }
  return std::unique_ptr<SliceVcpu>(new SliceVcpu(board, with_jit));
}

std::string_view SliceVcpu::name() const { return cpu_->jit() ? "jit" : "interp"; }

void SliceVcpu::SetState(const x86::CpuState& state) {
  *state_ = state;
  cpu_->s.interrupt_shadow = false;
  // As InterpVcpu::SetState: the new state may page differently, so no
  // translation from before survives (the interp_jit fuzz harness found a
  // TLB entry of the previous input's page tables in use).
  cpu_->StateReplaced();
}

SliceEnd SliceVcpu::RunSlice(uint64_t budget, SliceOptions options) {
  return cpu_->RunSlice(budget, options);
}
uint64_t SliceVcpu::instructions_retired() const { return cpu_->instructions_retired(); }
uint64_t SliceVcpu::faults_delivered() const { return cpu_->slice_faults(); }
bool SliceVcpu::interrupt_shadow() const { return cpu_->s.interrupt_shadow; }

size_t SliceVcpu::ReadCode(uint64_t linear, uint8_t* out, size_t n) {
  const bool user = state_->seg[x86::kSs].dpl() == 3;
  const uint64_t cr2 = state_->cr2;  // a faulting walk must leave no trace
  size_t got = 0;
  try {
    while (got < n) {  // one walk per page
      uint64_t pa = cpu_->Translate(linear + got, Access::kExecute, user);
      hw::GuestMemory::Span span = cpu_->board.memory().Lookup(pa);
      if (!span.host) break;
      size_t take = std::min<uint64_t>({n - got, span.length, 4096 - (pa & 0xFFF)});
      std::memcpy(out + got, span.host, take);
      got += take;
    }
  } catch (const GuestFault&) {
  }
  state_->cr2 = cr2;
  return got;
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
