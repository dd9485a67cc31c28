#include "hw/board.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>

namespace tandem::hw {

namespace {
// Interrupt source of a board without interrupt controllers.
class NoInterrupts final : public InterruptSource {
 public:
  bool HasPendingInterrupt() override { return false; }
  uint8_t AcknowledgeInterrupt() override { return 0xFF; }
};
NoInterrupts no_interrupts;
}  // namespace

Result<std::unique_ptr<Board>> Board::Create(BoardConfig config) {
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
      cpuid_(x86::CpuidModel::Default()) {
  if (config_.timeout_ns) deadline_ns_ = clock_->NowNs() + config_.timeout_ns;
}

Board::~Board() = default;

Status Board::Wire() { return Status(); }

InterruptSource& Board::interrupts() { return no_interrupts; }

void Board::RequestExit(int status) {
  if (stop_ == StopReason::kNone || stop_ == StopReason::kReset) {
    stop_ = StopReason::kExit;
    exit_status_ = status;
  }
}

void Board::RequestReset() {
  if (stop_ == StopReason::kNone) stop_ = StopReason::kReset;
}

void Board::Reset() {
  stop_ = StopReason::kNone;
  exit_status_ = 0;
}

void Board::Poll() {
  uint64_t now = clock_->NowNs();
  for (TimedDevice* device : timed_) {
    if (device->NextDeadlineNs() <= now) device->AdvanceTo(now);
  }
  PumpSerialInput();
  if (deadline_ns_ && now >= deadline_ns_ && stop_ == StopReason::kNone) stop_ = StopReason::kTimeout;
}

uint64_t Board::NextDeadlineNs() const {
  uint64_t next = deadline_ns_ ? deadline_ns_ : TimedDevice::kNoDeadline;
  for (const TimedDevice* device : timed_) next = std::min(next, device->NextDeadlineNs());
  return next;
}

void Board::WaitForEvent(uint64_t max_ns) {
  uint64_t now = clock_->NowNs();
  uint64_t next = NextDeadlineNs();
  uint64_t wait_ns = next > now ? std::min(next - now, max_ns) : 0;
  if (wait_ns == 0) return;
  pollfd fd{config_.serial_in_fd, POLLIN, 0};
  int timeout_ms = static_cast<int>(std::min<uint64_t>((wait_ns + 999999) / 1000000, 1000));
  if (config_.serial_in_fd >= 0 && pending_input_.empty()) {
    poll(&fd, 1, timeout_ms);
  } else {
    timespec ts{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    nanosleep(&ts, nullptr);
  }
}

void Board::PumpSerialInput() {}

}  // namespace tandem::hw
