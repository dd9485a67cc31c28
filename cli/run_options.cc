// The options of `tandem run`, shared with `tandem bench` and `tandem lockstep`.
#include "cli/run_options.h"

#include <fstream>

#include "cli/drive_option.h"
#include "cli/nic_option.h"
#include "hw/loader/linux_boot.h"
#include "hw/loader/multiboot.h"
#include "hw/memory_map.h"
#include "hw/pc_layout.h"

namespace tandem::cli {

namespace {

Result<std::vector<uint8_t>> ReadFile(const std::string& path, uint64_t max_size, const char* what) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::Error(std::string("cannot open ") + what + " '" + path + "'");
  auto size = static_cast<uint64_t>(in.tellg());
  if (size > max_size) return Status::Error(std::string(what) + " '" + path + "' is too large");
  std::vector<uint8_t> data(size);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size))) {
    return Status::Error(std::string("cannot read ") + what + " '" + path + "'");
  }
  return data;
}

}  // namespace

void AddRunOptions(CLI::App& run, RunOptions& opt) {
  run.add_option("--accel", opt.accel, "accelerators to try, e.g. auto, kvm, interp, kvm:interp")
      ->capture_default_str();
  run.add_option("-m,--memory", opt.memory, "guest RAM size (e.g. 128M, 2G)")->capture_default_str();
  run.add_option("--smp", opt.smp, "number of CPUs, N or cpus=N (1 to " + std::to_string(hw::layout::kMaxCpus) +
                                       "), one host thread each")
      ->capture_default_str();
  run.add_option("--bios", opt.bios, std::string("BIOS ROM image, started at the reset vector (default without --kernel: ") +
                                          kDefaultFirmware + ")");
  run.add_option("--kernel", opt.kernel, "Linux bzImage or Multiboot kernel");
  run.add_option("--initrd", opt.initrd, "initial ramdisk for a Linux kernel");
  run.add_option("--append", opt.append, "kernel command line");
  run.add_option("--serial", opt.serial, "COM1: stdio, file:PATH or none")->capture_default_str();
  run.add_option("--debugcon", opt.debugcon, "debug console port 0x402 (firmware log): stdio, file:PATH or none")
      ->capture_default_str();
  run.add_flag("--no-reboot", opt.no_reboot, "end tandem when the guest resets");
  run.add_flag("--deterministic", opt.deterministic,
               "run every vCPU on one host thread in fixed instruction slices, with guest time counted in "
               "instructions: the same guest gives the same output every run (interp and jit)");
  run.add_option("--timeout", opt.timeout_s, "stop the guest after SECONDS (exit status 124)");
  run.add_option("--dump-state", opt.dump_state, "write the final vCPU state to PATH");
  run.add_option("--incoming", opt.incoming,
                 "start from a snapshot (QMP migrate to file:PATH) instead of booting: file:PATH; the other "
                 "options must describe the same board (memory, CPUs, firmware, drives); any engine resumes it");
  run.add_option("-d", opt.log_items,
                 "log what the guest does that tandem tolerates: unimp,guest_errors (-d help lists them)");
  run.add_option("-D", opt.log_file, "write the -d log to FILE instead of stderr");
  run.add_option("--qmp", opt.qmp,
                 "QMP server: unix:PATH,server=on[,wait=off] or tcp:[HOST]:PORT,server=on[,wait=off]");
  run.add_option("--gdb", opt.gdb, "gdbstub: tcp:[HOST]:PORT or unix:PATH (QEMU's -gdb)");
  run.add_flag("-s", opt.gdb_default, "gdbstub on tcp::1234 (--gdb tcp::1234)");
  run.add_flag("-S", opt.start_stopped, "start with the vCPUs stopped (until QMP cont or gdb continue)");
  run.add_flag("--stats", opt.stats, "print run time (and instructions and MIPS where counted) on exit");
  // virtio devices (hw/virtio).
  run.add_option("--drive", opt.drives,
                 "a virtio-blk disk (repeatable): file=PATH[,format=raw][,if=virtio][,readonly=on]"
                 "[,snapshot=on][,cache=writeback|none]")
      ->allow_extra_args(false);
  run.add_flag("--no-rng", opt.no_rng, "no virtio-rng entropy device (on by default)");
  run.add_option("--nic", opt.nics,
                 "a virtio-net NIC (none by default): none | user[,hostfwd=tcp:[HOSTADDR]:PORT-[GUESTADDR]:PORT]..."
                 "[,mac=52:54:00:12:34:56] | tap,ifname=NAME")
      ->allow_extra_args(false);
  run.add_option("--device", opt.devices, "an extra device, QEMU's name: pc-testdev (kvm-unit-tests' test device)")
      ->allow_extra_args(false);
}

Result<RunOptions> ParseRunOptions(const std::vector<std::string>& args) {
  RunOptions opt;
  CLI::App run{"RUN-OPTIONS"};
  AddRunOptions(run, opt);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    run.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return Status::Error(std::string("run options: ") + e.what());
  }
  return opt;
}

Result<int> ParseSmp(const std::string& value) {
  std::string count = value.rfind("cpus=", 0) == 0 ? value.substr(5) : value;
  const std::string error = "--smp " + value + ": give the number of CPUs, 1 to " +
                            std::to_string(hw::layout::kMaxCpus) + " (N or cpus=N)";
  if (count.empty() || count.size() > 3 || count.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Error(error);
  }
  int n = std::stoi(count);
  if (n < 1 || n > hw::layout::kMaxCpus) return Status::Error(error);
  return n;
}

Status LoadImages(const RunOptions& opt, hw::BoardConfig& config, BootImages& images) {
  auto ram_size = hw::ParseSize(opt.memory);
  if (!ram_size.ok()) return ram_size.status();
  auto cpus = ParseSmp(opt.smp);
  if (!cpus.ok()) return cpus.status();
  config.cpu_count = *cpus;
  if (opt.timeout_s < 0) return Status::Error("--timeout must not be negative");
  config.ram_size = *ram_size;
  config.timeout_ns = static_cast<uint64_t>(opt.timeout_s * 1e9);
  config.virtio_rng = !opt.no_rng;
  for (const std::string& spec : opt.drives) {
    auto drive = ParseDriveOption(spec);
    if (!drive.ok()) return drive.status();
    config.drives.push_back(std::move(*drive));
  }
  for (const std::string& device : opt.devices) {
    if (device != "pc-testdev") return Status::Error("--device '" + device + "': the one extra device is pc-testdev");
    config.pc_testdev = true;
  }
  if (opt.nics.size() > 1) return Status::Error("--nic: tandem has one NIC; give --nic once");
  if (!opt.nics.empty()) {
    auto nic = ParseNicOption(opt.nics[0]);
    if (!nic.ok()) return nic.status();
    config.nic = std::move(*nic);
  }
  if (!opt.bios.empty()) {
    auto rom = ReadFile(opt.bios, hw::layout::kBiosMaxSize, "BIOS image");
    if (!rom.ok()) return rom.status();
    config.bios = std::move(*rom);
    if (config.bios.empty()) return Status::Error("BIOS image '" + opt.bios + "' is empty");
  } else if (opt.kernel.empty()) {
    auto rom = ReadFile(kDefaultFirmware, hw::layout::kBiosMaxSize, "firmware");
    if (!rom.ok()) {
      return Status::Error(rom.message() + ": install Debian's seabios package, or give --bios or --kernel");
    }
    config.bios = std::move(*rom);
    // Real firmware finds the chipset at its reset values and sets it up itself.
    config.direct_boot = false;
  }
  if (!opt.kernel.empty()) {
    auto image = ReadFile(opt.kernel, config.ram_size, "kernel");
    if (!image.ok()) return image.status();
    images.kernel = std::move(*image);
  }
  if (!opt.initrd.empty()) {
    if (opt.kernel.empty()) return Status::Error("--initrd needs --kernel");
    auto image = ReadFile(opt.initrd, config.ram_size, "initrd");
    if (!image.ok()) return image.status();
    images.initrd = std::move(*image);
  }
  return Status();
}

Result<x86::CpuState> PrepareBoot(const RunOptions& opt, hw::Board& board, const BootImages& images) {
  if (opt.kernel.empty()) return x86::ResetState();
  const auto& kernel = images.kernel;
  if (hw::IsBzImage(kernel)) {
    auto boot = hw::LoadLinux(board.memory(), kernel, images.initrd, opt.append, board.cpuid(), board.cpu_count());
    if (!boot.ok()) return Status::Error(opt.kernel + ": " + boot.message());
    return boot->state;
  }
  if (!opt.initrd.empty()) return Status::Error("--initrd needs a Linux bzImage kernel");
  // The command line starts with the kernel's file name, as GRUB and QEMU
  // give it: kvm-unit-tests take it as argv[0] and their arguments after it.
  auto boot = hw::LoadMultiboot(board.memory(), kernel, opt.kernel + " " + opt.append);
  if (!boot.ok()) return Status::Error(opt.kernel + ": " + boot.message());
  x86::CpuState state = x86::Flat32State(boot->entry);
  state.gpr[x86::kRax] = hw::kMultibootBootloaderMagic;
  state.gpr[x86::kRbx] = boot->info_address;
  return state;
}

}  // namespace tandem::cli
