#include "hw/board.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "hw/loader/acpi_tables.h"
#include "hw/pc_fw_cfg.h"
#include "hw/pc_layout.h"
#include "hw/virtio/virtio_pci.h"

namespace tandem::hw {

Result<std::unique_ptr<Board>> Board::Create(BoardConfig config) {
  if (config.cpu_count < 1 || config.cpu_count > layout::kMaxCpus) {
    return Status::Error("the CPU count must be 1 to " + std::to_string(layout::kMaxCpus));
  }
  auto map = MemoryMap::Build(config.ram_size, config.bios.size());
  if (!map.ok()) return map.status();
  auto memory = GuestMemory::Create(*map, config.bios);
  if (!memory.ok()) return memory.status();
  std::unique_ptr<Board> board(new Board(std::move(config), std::move(memory.value())));
  if (Status s = board->Wire(); !s.ok()) return s;
  return board;
}

Board::Board(BoardConfig config, GuestMemory memory)
    : config_(std::move(config)),
      clock_(config_.clock ? config_.clock : &host_clock_),
      memory_(std::move(memory)),
      log_(config_.log_mask, config_.log_sink),
      cpuid_(x86::CpuidModel::Default()) {
  if (config_.timeout_ns) deadline_ns_ = clock_->NowNs() + config_.timeout_ns;
  device_wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Board::~Board() {
  virtio_devices_.clear();  // stops the disk workers before anything they use goes
  virtio_pci_.clear();
  if (device_wake_fd_ >= 0) close(device_wake_fd_);
}

void Board::VisitState(StateVisitor& v) {
  for (auto& device : virtio_devices_) device->Quiesce();
  v.Section("clock");
  uint64_t now = clock_->NowNs();
  const uint64_t before = now;
  v(now);
  if (v.loading()) {
    clock_->SetNow(now);
    if (deadline_ns_) deadline_ns_ += now - before;  // --timeout still counts from the start of this run
  }
  std::lock_guard<std::mutex> lock(device_lock_);
  chipset_->VisitState(v);
  v.Section("fw_cfg");
  fw_cfg_->VisitState(v);
}

Status Board::Wire() {
  PcChipsetConfig chipset;
  chipset.cpu_count = config_.cpu_count;
  chipset.clock = clock_;
  chipset.wall_clock = config_.wall_clock;
  chipset.serial_out = config_.serial_out;
  chipset.debugcon_out = config_.debugcon_out;
  chipset.request_reset = [this] { RequestReset(); };
  chipset.request_exit = [this](int status) { RequestExit(status); };
  chipset.ram_below_4g = memory_.map().ram_below_4g();
  chipset.ram_above_4g = memory_.map().ram_above_4g();
  chipset.log = &log_;
  chipset.set_shadow = [this](const MemoryMap::ShadowModes& modes) { memory_.SetShadow(modes); };
  chipset.overlaps_memory = [this](uint64_t base, uint64_t size) {
    for (const MemoryRegion& r : memory_.map().regions()) {
      if (base < r.end() && r.gpa < base + size) return true;
    }
    return false;
  };
  chipset.direct_boot = config_.direct_boot;
  chipset.pc_testdev = config_.pc_testdev;
  chipset.direct_boot_shadow = memory_.map().DefaultShadow();
  chipset_ = std::make_unique<PcChipset>(std::move(chipset));
  if (Status s = chipset_->Attach(pio_); !s.ok()) return s;
  if (Status s = chipset_->AttachMmio(mmio_); !s.ok()) return s;
  for (int i = 0; i < config_.cpu_count; ++i) {
    sockets_.push_back(std::make_unique<CpuSocket>(i, chipset_->lapic(i), pio_, mmio_, device_lock_));
  }
  // fw_cfg on every boot: firmware reads its tables from it, and direct-boot
  // kernels (kvm-unit-tests) read the CPU count and RAM size.
  fw_cfg_ = std::make_unique<FwCfg>(dma_);
  fw_cfg_->set_log(&log_);
  const MemoryMap& map = memory_.map();
  PcFwCfgConfig fw_cfg_config;
  fw_cfg_config.cpu_count = config_.cpu_count;
  if (Status s = PopulatePcFwCfg(*fw_cfg_, map, BuildAcpiTables(AcpiConfigFor(map, config_.cpu_count)), fw_cfg_config);
      !s.ok()) {
    return s;
  }
  if (Status s = pio_.Register(layout::kFwCfgPort, FwCfg::kSize, fw_cfg_.get(), "fw_cfg"); !s.ok()) return s;
  timed_ = chipset_->timed_devices();
  if (Status s = WireVirtio(); !s.ok()) return s;
  serial_in_open_ = config_.serial_in_fd >= 0;
  return Status();
}

bool Board::TransitionStop(std::initializer_list<StopReason> from, StopReason to) {
  for (StopReason expected : from) {
    if (stop_.compare_exchange_strong(expected, to, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void Board::RequestExit(int status) {
  // The status is stored first, so a thread that sees kExit reads it; two
  // racing exits may mix, which only a guest racing two exit paths can see.
  const int before = exit_status_.exchange(status, std::memory_order_acq_rel);
  if (!TransitionStop({StopReason::kNone, StopReason::kReset}, StopReason::kExit)) {
    exit_status_.store(before, std::memory_order_release);
  }
}

void Board::RequestReset() { TransitionStop({StopReason::kNone}, StopReason::kReset); }

void Board::Reset() {
  stop_ = StopReason::kNone;
  exit_status_ = 0;
  chipset_->Reset();
  fw_cfg_->Reset();
}

void Board::Poll() {
  std::lock_guard<std::mutex> hold(device_lock_);
  uint64_t now = clock_->NowNs();
  for (TimedDevice* device : timed_) {
    if (device->NextDeadlineNs() <= now) device->AdvanceTo(now);
  }
  PumpSerialInput();
  if (deadline_ns_ && now >= deadline_ns_) TransitionStop({StopReason::kNone}, StopReason::kTimeout);
}

uint64_t Board::NextDeadlineNs() const {
  uint64_t next = deadline_ns_ ? deadline_ns_ : TimedDevice::kNoDeadline;
  for (const TimedDevice* device : timed_) next = std::min(next, device->NextDeadlineNs());
  return next;
}

void Board::WaitForEvent(uint64_t max_ns, int wake_fd) {
  pollfd fds[3];
  nfds_t n = 0;
  uint64_t wait_ns;
  {
    std::lock_guard<std::mutex> hold(device_lock_);
    uint64_t now = clock_->NowNs();
    uint64_t next = NextDeadlineNs();
    wait_ns = next > now ? std::min(next - now, max_ns) : 0;
    if (serial_in_open_ && pending_input_.empty()) fds[n++] = pollfd{config_.serial_in_fd, POLLIN, 0};
  }
  if (wait_ns == 0) return;
  if (wake_fd >= 0) fds[n++] = pollfd{wake_fd, POLLIN, 0};
  if (device_wake_fd_ >= 0) fds[n++] = pollfd{device_wake_fd_, POLLIN, 0};
  timespec ts{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
  if (n) {
    ppoll(fds, n, &ts, nullptr);
  } else {
    nanosleep(&ts, nullptr);
  }
  if (device_wake_fd_ >= 0) {
    uint64_t count;
    (void)!read(device_wake_fd_, &count, sizeof count);  // what woke us is in NextDeadlineNs()
  }
}

void Board::WakeFromDevice() {
  if (device_wake_fd_ < 0) return;
  uint64_t one = 1;
  (void)!write(device_wake_fd_, &one, sizeof one);
}

void Board::TakeSerialInput(const uint8_t* bytes, size_t n) {
  constexpr uint8_t kCtrlA = 0x01;
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = bytes[i];
    if (config_.console_escapes && (escape_pending_ || c == kCtrlA)) {
      if (!escape_pending_) {
        escape_pending_ = true;
        continue;
      }
      escape_pending_ = false;
      if (c == 'x' || c == 'X') {
        RequestExit(0);
        return;
      }
      if (c != kCtrlA) continue;  // unknown escapes are dropped, as in QEMU
    }
    pending_input_.push_back(c);
  }
}

// Host input waits in pending_input_ while the UART's receive FIFO is full.
void Board::PumpSerialInput() {
  if (serial_in_open_ && pending_input_.size() < 4096) {
    pollfd fd{config_.serial_in_fd, POLLIN, 0};
    if (poll(&fd, 1, 0) > 0) {
      uint8_t buf[256];
      ssize_t n = read(config_.serial_in_fd, buf, sizeof buf);
      if (n > 0) {
        TakeSerialInput(buf, static_cast<size_t>(n));
      } else if (n == 0 || (fd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        serial_in_open_ = false;  // end of input: stop polling it
      }
    }
  }
  size_t taken = 0;
  Uart16550& uart = chipset_->com1();
  while (taken < pending_input_.size() && uart.CanReceive()) uart.ReceiveByte(pending_input_[taken++]);
  pending_input_.erase(pending_input_.begin(), pending_input_.begin() + taken);
}

}  // namespace tandem::hw
