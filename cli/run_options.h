// The options of `tandem run` and what they load: `tandem bench` passes them
// on to child runs and `tandem lockstep` builds its two boards from them.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "hw/board.h"
#include "hw/status.h"
#include "target-x86/cpu_state.h"

namespace tandem::cli {

struct RunOptions {
  std::string accel = "auto";
  std::string memory = "128M";
  std::string smp = "1";  // QEMU's -smp: N or cpus=N
  std::string bios;
  std::string kernel;
  std::string append;
  std::string initrd;
  std::string serial = "stdio";
  std::string debugcon = "none";  // port 0x402: stdio, file:PATH or none
  std::string dump_state;
  std::string incoming;   // --incoming file:PATH: start from a snapshot (QEMU's spelling)
  std::string log_items;  // -d: guest log categories, as QEMU's
  std::string log_file;   // -D: where they go (default stderr)
  std::string qmp;        // --qmp: QMP server socket, QEMU's spelling ("" none)
  std::string gdb;        // --gdb: gdbstub socket (tcp::PORT, QEMU's -gdb)
  bool gdb_default = false;    // -s: --gdb tcp::1234
  bool start_stopped = false;  // -S: vCPUs stopped until cont (QMP) or c (gdb)
  bool no_reboot = false;
  bool deterministic = false;  // all vCPUs on one thread, guest time = instructions
  bool stats = false;
  double timeout_s = 0;
  // virtio (hw/virtio): --drive specs (cli/drive_option.h), --no-rng.
  std::vector<std::string> drives;
  bool no_rng = false;
  std::vector<std::string> nics;  // --nic (cli/nic_option.h); at most one
  std::vector<std::string> devices;  // --device: pc-testdev

};

// Declares the options of `tandem run` on `command`, filling `opt`.
void AddRunOptions(CLI::App& command, RunOptions& opt);

// Parses RUN-OPTIONS given after `--` to bench or lockstep, as `tandem run`
// would; the error is CLI11's message.
Result<RunOptions> ParseRunOptions(const std::vector<std::string>& args);

struct BootImages {
  std::vector<uint8_t> kernel;
  std::vector<uint8_t> initrd;
};

// The firmware booted when neither --bios nor --kernel is given: Debian's
// SeaBIOS build for QEMU's PC machines (package seabios).
inline constexpr const char* kDefaultFirmware = "/usr/share/seabios/bios-256k.bin";

// The CPU count of an --smp value (QEMU's N or cpus=N).
Result<int> ParseSmp(const std::string& value);

// Fills the RAM size, CPU count, the ROM and the timeout of `config` and reads the
// kernel and initrd: every check on the images a user can get wrong.
Status LoadImages(const RunOptions& opt, hw::BoardConfig& config, BootImages& images);

// Puts the vCPU where the guest image wants it: the reset vector for a BIOS,
// the boot-protocol entry for a bzImage, the Multiboot entry otherwise.
Result<x86::CpuState> PrepareBoot(const RunOptions& opt, hw::Board& board, const BootImages& images);

}  // namespace tandem::cli
