// RunControl and the monitors of `tandem run`.
#include "cli/monitors.h"

#include <cstdio>

#include "hw/snapshot.h"

namespace tandem::cli {

RunControl::RunControl(hw::Board& board, accel::VcpuThreads& threads, std::vector<accel::Vcpu*> vcpus,
                       std::string engine, std::function<Status()> reset_machine)
    : board_(board),
      threads_(threads),
      vcpus_(std::move(vcpus)),
      engine_(std::move(engine)),
      reset_machine_(std::move(reset_machine)) {}

monitor::RunState RunControl::State() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (quit_.load()) return monitor::RunState::kShutdown;
  if (prelaunch_) return monitor::RunState::kPrelaunch;
  return stopped_ ? monitor::RunState::kPaused : monitor::RunState::kRunning;
}

bool RunControl::Stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_ || quit_.load()) return false;
  threads_.Pause();
  stopped_ = true;
  return true;
}

Result<bool> RunControl::Cont() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (quit_.load()) return Status::Error("the machine is shutting down");
  if (!stopped_) return false;
  stopped_ = false;
  prelaunch_ = false;
  threads_.Resume();
  return true;
}

void RunControl::Reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) {
    // Now, so that what a client reads before cont (info registers, a
    // debugger) is the reset state; not when the machine is ending anyway.
    Status reset;
    threads_.WhilePaused([&] {
      const hw::StopReason reason = board_.stop_reason();
      if (reason == hw::StopReason::kNone || reason == hw::StopReason::kReset) reset = reset_machine_();
    });
    if (!reset.ok()) {  // (the boot it repeats worked once): the run ends as a failed boot does
      std::fprintf(stderr, "tandem: system_reset: %s\n", reset.message().c_str());
      threads_.WhilePaused([&] { board_.RequestExit(2); });
      stopped_ = false;
      threads_.Resume();
    }
    return;
  }
  // A vCPU resumed after this sees the request at once and the run loop resets.
  threads_.WhilePaused([&] {
    host_reset_.store(true);
    board_.RequestReset();
  });
}

void RunControl::Powerdown() {
  // The device lock too: a device's worker thread (virtio-blk) may raise its
  // interrupt line while the vCPUs are paused.
  threads_.WhilePaused([&] {
    std::lock_guard<std::mutex> lock(board_.device_lock());
    board_.chipset().acpi_pm().PressPowerButton();
  });
}

void RunControl::Quit() {
  std::lock_guard<std::mutex> lock(mutex_);
  quit_.store(true);
  threads_.WhilePaused([&] { board_.RequestExit(0); });
  // A stopped machine must run again for a vCPU to report the request.
  if (stopped_) {
    stopped_ = false;
    threads_.Resume();
  }
}

std::vector<monitor::CpuInfo> RunControl::Cpus() {
  std::vector<long> ids = threads_.thread_ids();
  std::vector<monitor::CpuInfo> cpus;
  for (size_t i = 0; i < vcpus_.size(); ++i) cpus.push_back({vcpus_[i]->index(), i < ids.size() ? ids[i] : 0});
  return cpus;
}

Result<x86::CpuState> RunControl::GetState(int cpu) {
  for (accel::Vcpu* v : vcpus_) {
    if (v->index() != cpu) continue;
    x86::CpuState state;
    threads_.WhilePaused([&] { state = v->GetState(); });
    return state;
  }
  return Status::Error("CPU " + std::to_string(cpu) + " does not exist");
}

bool RunControl::ReadPhysical(uint64_t address, void* out, size_t size) {
  bool ok = false;
  threads_.WhilePaused([&] { ok = board_.memory().ReadPhys(address, out, size); });
  return ok;
}

monitor::EngineInfo RunControl::Engine() {
  monitor::EngineInfo info;
  info.name = engine_;
  threads_.WhilePaused([&] {
    for (accel::Vcpu* v : vcpus_) info.instructions += v->instructions_retired();
  });
  info.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  for (const accel::Accelerator& a : accel::AcceleratorList()) {
    if (a.name == "kvm") info.kvm_present = a.probe().available;
  }
  return info;
}

Status RunControl::SetState(int cpu, const x86::CpuState& state) {
  for (accel::Vcpu* v : vcpus_) {
    if (v->index() == cpu) {
      threads_.WhilePaused([&] { v->SetState(state); });
      return Status();
    }
  }
  return Status::Error("CPU " + std::to_string(cpu) + " does not exist");
}

bool RunControl::WritePhysical(uint64_t address, const void* data, size_t size) {
  bool ok = false;
  threads_.WhilePaused([&] { ok = board_.memory().WritePhys(address, data, size); });
  return ok;
}

Status RunControl::SetDebug(bool single_step, const std::vector<uint64_t>& breakpoints) {
  accel::DebugConfig config{single_step, breakpoints};
  Status result;
  threads_.WhilePaused([&] {
    for (accel::Vcpu* v : vcpus_) {
      if (Status s = v->SetDebug(config); !s.ok()) result = s;
    }
  });
  return result;
}

Status RunControl::SaveSnapshot(const std::string& path) {
  Status result;
  threads_.WhilePaused([&] {
    std::vector<x86::CpuState> states;
    for (accel::Vcpu* v : vcpus_) states.push_back(v->GetState());
    result = hw::SaveSnapshot(path, board_, std::move(states), engine_);
  });
  return result;
}

void RunControl::HoldAtStart() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  threads_.Pause();
  stopped_ = prelaunch_ = true;
}

void RunControl::HoldForDebugger() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  threads_.Pause();
  stopped_ = true;
}

Result<std::unique_ptr<Monitors>> Monitors::Start(const RunOptions& opt, hw::Board& board,
                                                  accel::VcpuThreads& threads,
                                                  const std::vector<std::unique_ptr<accel::Vcpu>>& vcpus,
                                                  const std::string& engine,
                                                  std::function<Status()> reset_machine) {
  std::string gdb = opt.gdb.empty() && opt.gdb_default ? "tcp::1234" : opt.gdb;
  if (opt.qmp.empty() && gdb.empty() && !opt.start_stopped) return std::unique_ptr<Monitors>();
  std::vector<accel::Vcpu*> raw;
  for (const auto& v : vcpus) raw.push_back(v.get());
  std::unique_ptr<Monitors> m(new Monitors(board, threads, std::move(raw), engine, std::move(reset_machine)));
  if (opt.start_stopped) m->control_.HoldAtStart();
  if (!gdb.empty()) {
    auto endpoint = monitor::ParseEndpoint(gdb, "--gdb", /*gdb_style=*/true);
    if (!endpoint.ok()) return endpoint.status();
    auto server = monitor::GdbServer::Start(*endpoint, m->control_);
    if (!server.ok()) return Status::Error("--gdb: " + server.message());
    m->gdb_ = std::move(*server);
  }
  if (opt.qmp.empty()) return m;
  auto endpoint = monitor::ParseEndpoint(opt.qmp, "--qmp");
  if (!endpoint.ok()) return endpoint.status();
  monitor::QmpVersion version;
  std::sscanf(TANDEM_VERSION, "%d.%d.%d", &version.major, &version.minor, &version.micro);
  version.package = std::string("tandem ") + TANDEM_VERSION;
  auto qmp = monitor::QmpServer::Start(*endpoint, m->control_, std::move(version));
  if (!qmp.ok()) return Status::Error("--qmp: " + qmp.message());
  m->qmp_ = std::move(*qmp);
  return m;
}

Monitors::~Monitors() {
  if (qmp_ && !control_.quit_requested()) {
    if (board_.stop_reason() == hw::StopReason::kExit) {
      qmp_->EmitGuestShutdown();
    } else if (board_.stop_reason() == hw::StopReason::kReset) {
      qmp_->Emit("SHUTDOWN", R"({"guest": true, "reason": "guest-reset"})");  // --no-reboot
    } else {
      qmp_->Emit("SHUTDOWN", R"({"guest": false, "reason": "host-error"})");
    }
  }
}

void Monitors::DebugStopped(int vcpu) {
  control_.HoldForDebugger();
  if (gdb_) gdb_->DebugStopped(vcpu);
  if (qmp_) qmp_->Emit("STOP");
}

void Monitors::GuestReset() {
  if (qmp_ && !control_.TakeHostReset()) qmp_->EmitGuestReset();
}

}  // namespace tandem::cli
