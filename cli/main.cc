// tandem's command line: `tandem run` boots a guest on the chosen engine,
// `tandem accels` lists the accelerators and why any is unavailable;
// `tandem bench` and `tandem lockstep` compare engines (their own files).
// Errors a user can cause end with one line on stderr and exit status 2.
#include <CLI/CLI.hpp>
#include <termios.h>
#include <unistd.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "accel/accelerator.h"
#include "accel/deterministic_runner.h"
#include "accel/vcpu_threads.h"
#include "cli/bench_command.h"
#include "cli/lockstep_command.h"
#include "cli/monitors.h"
#include "cli/run_options.h"
#include "hw/board.h"
#include "hw/snapshot.h"
#include "hw/virtio/virtio_rng.h"

namespace {

using namespace tandem;
using cli::BootImages;
using cli::RunOptions;

constexpr int kUsageError = 2;
// Even, so that it never collides with a debug-exit status (v << 1) | 1.
constexpr int kEngineError = 4;

int Fail(const std::string& message) {
  std::fprintf(stderr, "tandem: %s\n", message.c_str());
  return kUsageError;
}

class FileSink final : public hw::CharSink {
 public:
  explicit FileSink(std::FILE* file) : file_(file) {}
  ~FileSink() override {
    if (file_ && file_ != stdout) std::fclose(file_);
  }
  void Put(uint8_t byte) override {
    std::fputc(byte, file_);
    if (byte == '\n' || file_ == stdout) std::fflush(file_);
  }

 private:
  std::FILE* file_;
};

// While the guest owns an interactive console, the host terminal passes keys
// through one by one and does not echo them (the guest echoes), like QEMU's
// -serial stdio; Ctrl-C still ends tandem. The saved settings are restored
// on return and, through a file-static copy (a signal handler can reach
// nothing else), when a signal ends the process.
class ConsoleTerminal {
 public:
  ConsoleTerminal() {
    // Only the foreground job may change the terminal (else SIGTTOU stops us).
    if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) != getpgrp()) return;
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~(ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~(IXON | ICRNL);  // Enter sends CR, as a serial terminal does
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    signal_copy_ = saved_;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, RestoreAndDie);
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~ConsoleTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  ConsoleTerminal(const ConsoleTerminal&) = delete;
  ConsoleTerminal& operator=(const ConsoleTerminal&) = delete;

 private:
  static void RestoreAndDie(int sig) {
    tcsetattr(STDIN_FILENO, TCSANOW, &signal_copy_);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  static inline termios signal_copy_{};
  termios saved_{};
  bool active_ = false;
};

std::string FormatState(const x86::CpuState& s) {
  static const char* kGprNames[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  static const char* kSegNames[] = {"es", "cs", "ss", "ds", "fs", "gs"};
  std::string out;
  char line[96];
  auto put = [&](const std::string& name, uint64_t value) {
    std::snprintf(line, sizeof line, "%s=%" PRIx64 "\n", name.c_str(), value);
    out += line;
  };
  for (int i = 0; i < 16; ++i) put(kGprNames[i], s.gpr[i]);
  put("rip", s.rip);
  put("rflags", s.rflags);
  for (int i = 0; i < 6; ++i) {
    put(std::string(kSegNames[i]) + ".sel", s.seg[i].selector);
    put(std::string(kSegNames[i]) + ".base", s.seg[i].base);
  }
  put("cr0", s.cr0);
  put("cr3", s.cr3);
  put("cr4", s.cr4);
  put("efer", s.msr.efer);
  put("gdtr.base", s.gdtr.base);
  put("gdtr.limit", s.gdtr.limit);
  put("idtr.base", s.idtr.base);
  put("idtr.limit", s.idtr.limit);
  return out;
}

int Run(const RunOptions& opt) {
  if (opt.log_items == "help") {
    std::fputs(hw::GuestLog::Help().c_str(), stdout);
    return 0;
  }
  auto log_mask = hw::GuestLog::ParseCategories(opt.log_items);
  if (!log_mask.ok()) return Fail(log_mask.message());
  hw::BoardConfig config;
  BootImages images;
  if (Status s = cli::LoadImages(opt, config, images); !s.ok()) return Fail(s.message());

  std::unique_ptr<FileSink> serial;
  if (opt.serial == "stdio") {
    serial = std::make_unique<FileSink>(stdout);
    config.serial_in_fd = 0;
    config.console_escapes = isatty(STDIN_FILENO);
  } else if (opt.serial.rfind("file:", 0) == 0) {
    std::FILE* f = std::fopen(opt.serial.substr(5).c_str(), "wb");
    if (!f) return Fail("cannot open serial output '" + opt.serial.substr(5) + "'");
    serial = std::make_unique<FileSink>(f);
  } else if (opt.serial != "none") {
    return Fail("--serial must be stdio, file:PATH or none");
  }
  config.serial_out = serial.get();
  std::unique_ptr<FileSink> debugcon;
  if (opt.debugcon == "stdio") {
    debugcon = std::make_unique<FileSink>(stdout);
  } else if (opt.debugcon.rfind("file:", 0) == 0) {
    std::FILE* f = std::fopen(opt.debugcon.substr(5).c_str(), "wb");
    if (!f) return Fail("cannot open debug console output '" + opt.debugcon.substr(5) + "'");
    debugcon = std::make_unique<FileSink>(f);
  } else if (opt.debugcon != "none") {
    return Fail("--debugcon must be stdio, file:PATH or none");
  }
  config.debugcon_out = debugcon.get();
  config.log_mask = *log_mask;
  std::unique_ptr<FileSink> log_file;
  if (!opt.log_file.empty()) {
    std::FILE* f = std::fopen(opt.log_file.c_str(), "w");
    if (!f) return Fail("cannot open log file '" + opt.log_file + "'");
    log_file = std::make_unique<FileSink>(f);
    config.log_sink = log_file.get();
  }

  std::string accel_spec = opt.accel;
  if (opt.deterministic && (!opt.qmp.empty() || !opt.gdb.empty() || opt.gdb_default || opt.start_stopped)) {
    return Fail("--qmp, --gdb, -s and -S need the threaded run, not --deterministic");
  }
  if (opt.deterministic) {
    // Only engines that count instructions can share one thread in slices.
    if (accel_spec == "auto") accel_spec = "jit:interp";
    if ((":" + accel_spec + ":").find(":kvm:") != std::string::npos) {
      return Fail("--deterministic needs an engine that counts instructions (interp or jit), not kvm");
    }
  }
  auto accelerators = accel::AcceleratorList();
  auto choice = accel::ChooseAccelerator(accelerators, accel_spec);
  if (!choice.ok()) return Fail(choice.message());
  if (!choice->fallbacks.empty() && opt.accel != "auto") {
    for (const auto& why : choice->fallbacks) {
      std::fprintf(stderr, "tandem: falling back to %s: %s\n", choice->accelerator->name.c_str(),
                   why.c_str());
    }
  }

  for (const auto& why : choice->passed_over) {
    std::fprintf(stderr, "tandem: auto: using %s, not %s\n", choice->accelerator->name.c_str(), why.c_str());
  }
  if (!choice->caveat.empty()) {
    std::fprintf(stderr, "tandem: warning: %s: %s\n", choice->accelerator->name.c_str(), choice->caveat.c_str());
  }

  // Deterministic mode: guest time is instructions, and the RTC starts at a
  // fixed date (2026-01-01 00:00:00 UTC), so nothing of the host leaks in.
  hw::ManualClock guest_time;
  if (opt.deterministic) {
    config.clock = &guest_time;
    config.wall_clock = [&guest_time] { return static_cast<time_t>(1767225600 + guest_time.NowNs() / 1000000000); };
    config.timeout_ns = 0;  // --timeout stays host seconds (the runner's wall limit)
    config.entropy = hw::virtio::VirtioRng::Seeded(hw::virtio::VirtioRng::kRepeatableSeed);  // virtio-rng repeats too
  }
  auto board = hw::Board::Create(std::move(config));
  if (!board.ok()) return Fail(board.message());
  hw::Board& b = **board;
  auto machine = choice->accelerator->create(b);
  if (!machine.ok()) {
    std::fprintf(stderr, "tandem: %s: %s\n", choice->accelerator->name.c_str(), machine.message().c_str());
    return kEngineError;
  }
  // vCPU 0 boots; the others wait for the guest's startup IPIs.
  std::vector<std::unique_ptr<accel::Vcpu>> vcpus;
  for (int i = 0; i < b.cpu_count(); ++i) {
    auto vcpu = (*machine)->CreateVcpu(i);
    if (!vcpu.ok()) {
      std::fprintf(stderr, "tandem: %s: %s\n", choice->accelerator->name.c_str(), vcpu.message().c_str());
      return kEngineError;
    }
    vcpus.push_back(std::move(*vcpu));
  }
  accel::Vcpu& bsp = *vcpus[0];
  if (opt.deterministic && !bsp.can_run_slices()) {
    return Fail("--deterministic needs an engine that counts instructions (interp or jit), not " +
                choice->accelerator->name);
  }
  auto state = cli::PrepareBoot(opt, b, images);
  if (!state.ok()) return Fail(state.message());
  bsp.SetState(*state);
  if (!opt.incoming.empty()) {
    // The boot above still built what the options describe (fw_cfg's
    // kernel, the tables); the snapshot then replaces RAM, devices and CPUs.
    if (opt.incoming.rfind("file:", 0) != 0 || opt.incoming.size() == 5) {
      return Fail("--incoming must be file:PATH");
    }
    auto loaded = hw::LoadSnapshot(opt.incoming.substr(5), b);
    if (!loaded.ok()) return Fail(loaded.message());
    for (size_t i = 0; i < vcpus.size(); ++i) vcpus[i]->SetState(loaded->cpus[i]);
  }
  std::optional<ConsoleTerminal> terminal;
  if (opt.serial == "stdio") terminal.emplace();

  hw::HostClock wall;
  const uint64_t started_ns = wall.NowNs();
  const std::string name((*machine)->name());
  // Printed on every way out of the run loop when --stats is given (after
  // the vCPU threads have stopped: VcpuThreads is declared below it).
  struct StatsPrinter {
    const RunOptions& opt;
    const std::string& name;
    const std::vector<std::unique_ptr<accel::Vcpu>>& vcpus;
    const hw::HostClock& wall;
    uint64_t started_ns;
    ~StatsPrinter() {
      if (!opt.stats) return;
      double seconds = static_cast<double>(wall.NowNs() - started_ns) / 1e9;
      uint64_t n = 0;
      for (const auto& vcpu : vcpus) n += vcpu->instructions_retired();
      std::fprintf(stderr, "tandem: %s: %.3f s", name.c_str(), seconds);
      if (n) std::fprintf(stderr, ", %" PRIu64 " instructions, %.1f MIPS", n, n / seconds / 1e6);
      std::fprintf(stderr, "\n");
      for (const auto& vcpu : vcpus) {
        if (std::string more = vcpu->stats(); !more.empty()) {
          std::fprintf(stderr, "tandem: %s", name.c_str());
          if (vcpus.size() > 1) std::fprintf(stderr, " vCPU %d", vcpu->index());
          std::fprintf(stderr, ": %s\n", more.c_str());
        }
      }
    }
  } stats_printer{opt, name, vcpus, wall, started_ns};

  // The world is paused whenever this is called (WaitForExit returns so).
  auto DumpState = [&] {
    if (!opt.dump_state.empty()) std::ofstream(opt.dump_state) << FormatState(bsp.GetState());
  };
  // The reset button, with the world paused: the chipset to its reset
  // state, the boot prepared again (a direct-boot kernel reloaded), vCPU 0
  // at its start and the others waiting for startup IPIs. The run loop (the
  // guest's reset) and a monitor (system_reset while stopped) each call it
  // holding a pause of their own, which may overlap: one at a time.
  std::mutex reset_mutex;
  auto ResetMachine = [&]() -> Status {
    std::lock_guard<std::mutex> hold(reset_mutex);
    b.Reset();
    auto again = cli::PrepareBoot(opt, b, images);
    if (!again.ok()) return again.status();
    bsp.SetState(*again);
    for (size_t i = 1; i < vcpus.size(); ++i) vcpus[i]->SetState(x86::WaitForSipiState());
    return Status();
  };
  // The monitors (--qmp, --gdb) of a threaded run; set below, once the vCPU
  // threads they act on exist.
  cli::Monitors* monitors = nullptr;
  // What a vCPU's exit means for the run, with the world paused: an exit
  // status to end with, or nothing to go on (after a reset, say).
  auto HandleExit = [&](const accel::RunOutcome& outcome) -> std::optional<int> {
    if (outcome.kind == accel::RunOutcome::Kind::kError) {
      std::fprintf(stderr, "tandem: %s engine error: %s\n", name.c_str(), outcome.message.c_str());
      return kEngineError;
    }
    if (outcome.kind == accel::RunOutcome::Kind::kHalted) {
      std::fprintf(stderr, "tandem: the guest halted with interrupts disabled; nothing can wake it, ending\n");
      DumpState();
      return 0;
    }
    bool reset = outcome.kind == accel::RunOutcome::Kind::kTripleFault ||
                 b.stop_reason() == hw::StopReason::kReset;
    if (outcome.kind == accel::RunOutcome::Kind::kTripleFault) {
      std::fprintf(stderr, "tandem: guest triple fault\n%s", outcome.message.c_str());
    }
    if (b.stop_reason() == hw::StopReason::kExit || b.stop_reason() == hw::StopReason::kTimeout ||
        (reset && opt.no_reboot)) {
      DumpState();
      if (b.stop_reason() == hw::StopReason::kTimeout) {
        std::fprintf(stderr, "tandem: timeout after %g s\n", opt.timeout_s);
        return 124;
      }
      return b.stop_reason() == hw::StopReason::kExit ? b.exit_status() : 0;
    }
    if (reset) {
      if (monitors) monitors->GuestReset();
      if (Status s = ResetMachine(); !s.ok()) return Fail(s.message());
    }
    // Else a stop request some other exit already handled (a reset).
    return std::nullopt;
  };

  std::vector<accel::Vcpu*> running;
  for (auto& v : vcpus) running.push_back(v.get());
  if (opt.deterministic) {
    const uint64_t wall_limit = opt.timeout_s > 0 ? started_ns + static_cast<uint64_t>(opt.timeout_s * 1e9) : 0;
    accel::DeterministicRunner runner(std::move(running), b, guest_time, wall_limit);
    for (;;) {
      accel::DeterministicRunner::Exit exit = runner.Run();
      if (exit.wall_timeout) {
        DumpState();
        std::fprintf(stderr, "tandem: timeout after %g s\n", opt.timeout_s);
        return 124;
      }
      if (std::optional<int> status = HandleExit(exit.outcome)) return *status;
    }
  }
  accel::VcpuThreads threads(std::move(running));
  // Declared after `threads`, so the monitors stop before the vCPU threads.
  auto started_monitors = cli::Monitors::Start(opt, b, threads, vcpus, name, ResetMachine);
  if (!started_monitors.ok()) return Fail(started_monitors.message());
  std::unique_ptr<cli::Monitors> monitors_owner = std::move(*started_monitors);
  monitors = monitors_owner.get();
  threads.Start();
  for (;;) {
    // Every way out of HandleExit leaves the world paused; ~VcpuThreads joins the threads.
    accel::VcpuThreads::Exit exit = threads.WaitForExit();
    if (exit.outcome.kind == accel::RunOutcome::Kind::kDebug && monitors) {  // the gdbstub holds the world
      monitors->DebugStopped(exit.vcpu);
      threads.Resume();
      continue;
    }
    if (std::optional<int> status = HandleExit(exit.outcome)) return *status;
    threads.Resume();
  }
}

int ListAccelerators() {
  for (const auto& accel : tandem::accel::AcceleratorList()) {
    auto a = accel.probe();
    std::printf("%-8s %-13s %s%s%s%s\n", accel.name.c_str(), a.available ? "available" : "unavailable",
                accel.description.c_str(), a.reason.empty() ? "" : ": ", a.reason.c_str(),
                a.degraded ? " [auto skips it when another works]" : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tandem: an x86 PC emulator with KVM and interpreter engines"};
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);
  app.require_subcommand(1);

  RunOptions opt;
  auto* run = app.add_subcommand("run", "boot a guest");
  cli::AddRunOptions(*run, opt);
  auto* accels = app.add_subcommand("accels", "list accelerators and their availability");
  cli::BenchOptions bench_opt;
  auto* bench = app.add_subcommand("bench", "run a guest on several engines and compare time and output");
  cli::AddBenchOptions(*bench, bench_opt);
  cli::LockstepOptions lockstep_opt;
  auto* lockstep = app.add_subcommand("lockstep", "run a guest on two engines, comparing their CPU state");
  cli::AddLockstepOptions(*lockstep, lockstep_opt);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tandem: %s\n", e.what());
    return kUsageError;
  }
  if (accels->parsed()) return ListAccelerators();
  if (bench->parsed()) return cli::Bench(bench_opt);
  if (lockstep->parsed()) return cli::Lockstep(lockstep_opt);
  return Run(opt);
}
