// The PC board: guest memory, the port-I/O and MMIO buses and the chipset
// devices on them, and one CPU socket per CPU. Engines take the board by
// reference and send every I/O access and interrupt acknowledge of vCPU i
// through cpu(i); nothing here knows which engine runs.
//
// Threading (several vCPU threads): device state is guarded by one device
// lock (see hw/cpu_socket.h for why one); CpuSocket and Poll() take it.
// Stop requests are atomic. Everything else (Reset, memory map changes,
// loaders, the buses reached directly through pio()/mmio()) runs with the
// world paused, or before the vCPUs start.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/block/raw_image.h"
#include "hw/bus.h"
#include "hw/char_io.h"
#include "hw/clock.h"
#include "hw/cpu_socket.h"
#include "hw/dma_memory.h"
#include "hw/guest_log.h"
#include "hw/guest_memory.h"
#include "hw/irq.h"
#include "hw/misc/fw_cfg.h"
#include "hw/net/nic_config.h"
#include "hw/pc_chipset.h"
#include "hw/state_visitor.h"
#include "target-x86/cpuid.h"

namespace tandem::hw {

namespace virtio {
class VirtioDevice;
class VirtioPci;
}  // namespace virtio

struct BoardConfig {
  uint64_t ram_size = 128ull << 20;
  int cpu_count = 1;               // 1 ... layout::kMaxCpus
  std::vector<uint8_t> bios;       // empty: no ROM (e.g. a Multiboot kernel)
  CharSink* serial_out = nullptr;  // COM1 output; nullptr discards it
  int serial_in_fd = -1;           // host fd pumped into COM1, -1 for none
  // QEMU's console escapes on serial input: Ctrl-A x ends tandem (exit
  // status 0), Ctrl-A Ctrl-A sends one Ctrl-A. For interactive terminals.
  bool console_escapes = false;
  CharSink* debugcon_out = nullptr;
  Clock* clock = nullptr;          // nullptr: host monotonic clock
  Mc146818::WallClock wall_clock;  // the RTC's time of day; empty: the host's
  uint64_t timeout_ns = 0;         // 0: no limit; else the board stops itself
  // Guest diagnostics (`-d`): enabled LogCategory bits, and where they go
  // (`-D FILE`; nullptr: stderr).
  unsigned log_mask = 0;
  CharSink* log_sink = nullptr;
  // No PC firmware runs (a --kernel, or a ROM that is not PC firmware): the
  // board sets up the chipset as SeaBIOS would (PcChipsetConfig::direct_boot).
  // False for real firmware, which finds every register at its reset value.
  bool direct_boot = true;
  // --- virtio (hw/virtio; board wiring in hw/board_virtio.cc) ---
  // The entropy device virtio-rng-pci (on unless --no-rng), and one
  // virtio-blk-pci per drive (--drive), on PCI bus 0.
  bool virtio_rng = true;
  // Where virtio-rng's bytes come from (virtio::VirtioRng::Source); empty:
  // the host's getrandom(). Lockstep and --deterministic seed a generator so
  // that runs repeat.
  std::function<size_t(uint8_t*, size_t)> entropy;
  std::vector<DriveConfig> drives;
  // A virtio-net-pci NIC (--nic; none by default).
  NicConfig nic;
  // --- end virtio ---
  // QEMU's pc-testdev (--device pc-testdev), which kvm-unit-tests use.
  bool pc_testdev = false;
};

enum class StopReason { kNone, kExit, kReset, kTimeout };

class Board {
 public:
  static Result<std::unique_ptr<Board>> Create(BoardConfig config);
  ~Board();

  GuestMemory& memory() { return memory_; }
  const MemoryMap& memory_map() const { return memory_.map(); }
  Bus& pio() { return pio_; }
  Bus& mmio() { return mmio_; }
  int cpu_count() const { return static_cast<int>(sockets_.size()); }
  // What CPU i sees of the board (0 is the bootstrap processor).
  CpuSocket& cpu(int i) { return *sockets_[i]; }
  // Guards all device state; engines hold it only through CpuSocket and
  // Poll(), so device code never takes it itself. A device's own worker
  // thread (a virtio-blk disk, a NIC backend delivering a frame) holds it
  // around everything it shares with the vCPU side (ring updates, ISR,
  // recording interrupts). Lock order: this
  // lock first, then any lock private to a device. Never held during host I/O.
  std::mutex& device_lock() { return device_lock_; }
  // Whether every CPU is stuck (CpuSocket::set_stuck): then nothing the
  // board has can wake any of them.
  bool AllCpusStuck() const {
    for (const auto& socket : sockets_) {
      if (!socket->stuck()) return false;
    }
    return true;
  }
  // The CPUID model the guest sees. An engine that cannot give every bit
  // (KVM) narrows it when it is created, so firmware tables built after that
  // (the MP table) describe the same CPU.
  const x86::CpuidModel& cpuid() const { return cpuid_; }
  void set_cpuid(x86::CpuidModel model) { cpuid_ = std::move(model); }
  const Clock& clock() const { return *clock_; }
  PcChipset& chipset() { return *chipset_; }
  FwCfg& fw_cfg() { return *fw_cfg_; }
  // Where devices and engines report what the guest did (-d categories).
  GuestLog& log() { return log_; }

  // Requests from devices (debug-exit, i8042/port 0x92 reset) and engines
  // (triple fault). Engines stop running when stop_requested() turns true.
  void RequestExit(int status);
  void RequestReset();
  bool stop_requested() const { return stop_.load(std::memory_order_acquire) != StopReason::kNone; }
  StopReason stop_reason() const { return stop_.load(std::memory_order_acquire); }
  int exit_status() const { return exit_status_.load(std::memory_order_acquire); }
  // Clears any stop request and puts the devices in their power-on state
  // (CMOS RAM survives, as on a real board).
  void Reset();

  // Snapshots (hw/snapshot.h), with the world paused: guest time and every
  // device's state (RAM and the vCPUs are the snapshot file's). Saving first
  // waits until no device has a request in flight; loading sets the clock
  // so that guest time goes on from the saved time.
  void VisitState(StateVisitor& v);
  const BoardConfig& config() const { return config_; }

  // Brings timed devices up to the clock, pumps host serial input and checks
  // the timeout. Engines call this often (every exit, every few thousand
  // interpreted instructions, and after waking from HLT).
  void Poll();
  // The earliest time a timed device needs Poll(), in clock nanoseconds.
  uint64_t NextDeadlineNs() const;
  // Sleeps (for a halted vCPU) until the next deadline, serial input, wake_fd
  // turning readable (a kick of that vCPU; -1 for none), or max_ns, whichever
  // comes first.
  void WaitForEvent(uint64_t max_ns, int wake_fd = -1);

  // --- virtio ---
  // Wakes a vCPU sleeping in WaitForEvent (any thread: a device's worker
  // that has an interrupt for Poll() to raise).
  void WakeFromDevice();
  // --- end virtio ---

 private:
  Board(BoardConfig config, GuestMemory memory);
  Status Wire();
  Status WireVirtio();  // hw/board_virtio.cc
  void PumpSerialInput();  // with device_lock_ held
  // Moves stop_ from one of `from` to `to`; false when it was elsewhere.
  bool TransitionStop(std::initializer_list<StopReason> from, StopReason to);
  void TakeSerialInput(const uint8_t* bytes, size_t n);

  BoardConfig config_;
  HostClock host_clock_;
  Clock* clock_;
  GuestMemory memory_;
  GuestMemoryDma dma_{memory_};
  GuestLog log_;
  Bus pio_{"port I/O", &log_};
  Bus mmio_{"MMIO", &log_};
  x86::CpuidModel cpuid_;
  std::unique_ptr<PcChipset> chipset_;
  std::unique_ptr<FwCfg> fw_cfg_;
  std::mutex device_lock_;  // see device_lock()
  std::vector<std::unique_ptr<CpuSocket>> sockets_;
  std::vector<TimedDevice*> timed_;
  std::atomic<StopReason> stop_{StopReason::kNone};
  std::atomic<int> exit_status_{0};
  uint64_t deadline_ns_ = 0;
  bool serial_in_open_ = false;
  std::vector<uint8_t> pending_input_;
  bool escape_pending_ = false;  // the last input byte was Ctrl-A
  // --- virtio --- (device_lock_, above, outlives the devices; devices,
  // whose workers use their transports, go before the transports)
  int device_wake_fd_ = -1;  // eventfd: WakeFromDevice() -> WaitForEvent
  std::vector<std::unique_ptr<virtio::VirtioPci>> virtio_pci_;
  std::vector<std::unique_ptr<virtio::VirtioDevice>> virtio_devices_;
  // --- end virtio ---
};

}  // namespace tandem::hw
