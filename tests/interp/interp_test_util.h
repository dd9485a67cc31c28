// A small machine for interpreter unit tests: a board with 16 MiB of RAM,
// hand-assembled code at kCode, a vCPU stepped one instruction at a time and
// a recording device on port kTestPort.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "accel/interp/cpu.h"
#include "hw/board.h"
#include "hw/io_device.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel::interp::testing {

inline constexpr uint64_t kCode = 0x10000;
inline constexpr uint64_t kData = 0x20000;
inline constexpr uint16_t kTestPort = 0x530;

// Records OUTs; IN returns next_in; a write of 0xE0 to port+1 asks the board to exit.
class RecordingDevice final : public hw::IoDevice {
 public:
  explicit RecordingDevice(hw::Board& board) : board_(board) {}
  uint64_t Read(uint64_t offset, unsigned size) override {
    reads.push_back(offset);
    return next_in;
  }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    if (offset == 1) {
      board_.RequestExit(static_cast<int>(value));
      return;
    }
    writes.push_back({size, value});
  }
  struct Access {
    unsigned size;
    uint64_t value;
  };
  std::vector<Access> writes;
  std::vector<uint64_t> reads;
  uint64_t next_in = 0;

 private:
  hw::Board& board_;
};

// Flat 64-bit long mode with identity-mapped 2 MiB pages for the first 16 MiB
// (page tables at 0x1000..0x3FFF).
inline x86::CpuState Long64State(hw::Board& board, uint64_t entry) {
  x86::CpuState s = x86::Flat32State(entry);
  uint64_t pml4e = 0x2000 | 3;  // PML4[0] -> PDPT at 0x2000
  board.memory().WritePhys(0x1000, &pml4e, 8);
  uint64_t pdpte = 0x3000 | 3;  // PDPT[0] -> PD at 0x3000
  board.memory().WritePhys(0x2000, &pdpte, 8);
  for (uint64_t i = 0; i < 8; ++i) {
    uint64_t e = (i << 21) | 0x83;  // present, writable, 2 MiB
    board.memory().WritePhys(0x3000 + i * 8, &e, 8);
  }
  s.cr3 = 0x1000;
  s.cr4 |= x86::kCr4Pae;
  s.cr0 |= x86::kCr0Pg;
  s.msr.efer = x86::kEferLme | x86::kEferLma;
  s.seg[x86::kCs].attrib = (s.seg[x86::kCs].attrib & ~x86::Segment::kDb) | x86::Segment::kL;
  return s;
}

enum class Mode { kFlat32, kLong64, kReal };

inline hw::BoardConfig SmallBoard() {
  hw::BoardConfig config;
  config.ram_size = 16ull << 20;
  return config;
}

class Machine {
 public:
  explicit Machine(const std::vector<uint8_t>& code, Mode mode = Mode::kFlat32) {
    auto board = hw::Board::Create(SmallBoard());
    EXPECT_TRUE(board.ok()) << (board.ok() ? "" : board.message());
    board_ = std::move(*board);
    device_ = std::make_unique<RecordingDevice>(*board_);
    EXPECT_TRUE(board_->pio().Register(kTestPort, 2, device_.get(), "test").ok());
    if (mode == Mode::kLong64) {
      s = Long64State(*board_, kCode);
    } else if (mode == Mode::kReal) {
      s = x86::ResetState();
      s.seg[x86::kCs].selector = kCode >> 4;
      s.seg[x86::kCs].base = kCode;
      s.rip = 0;
      s.gpr[x86::kRdx] = 0;
    } else {
      s = x86::Flat32State(kCode);
    }
    s.gpr[x86::kRsp] = 0x8000;
    Load(kCode, code);
    cpu = std::make_unique<Cpu>(*board_, s);
  }

  void Load(uint64_t pa, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(board_->memory().WritePhys(pa, bytes.data(), bytes.size()));
  }
  void Step(int n = 1) {
    for (int i = 0; i < n; ++i) cpu->Step();
  }
  // Runs the instruction at RIP alone; returns the vector of the fault it
  // raised (not delivered), -1 for none.
  int Run() {
    try {
      const DecodedInsn& insn = cpu->Fetch();
      cpu->next_rip = s.rip + insn.length;
      insn.handler(*cpu, insn);
      s.rip = cpu->next_rip;
    } catch (const GuestFault& f) {
      return f.vector;
    }
    return -1;
  }
  uint64_t Read(uint64_t pa, unsigned size) {
    uint64_t v = 0;
    board_->memory().ReadPhys(pa, &v, size);
    return v;
  }
  void Write(uint64_t pa, unsigned size, uint64_t v) { board_->memory().WritePhys(pa, &v, size); }
  uint64_t& reg(int r) { return s.gpr[r]; }
  bool flag(uint64_t f) const { return s.rflags & f; }

  hw::Board& board() { return *board_; }
  RecordingDevice& device() { return *device_; }

  x86::CpuState s;

 private:
  // Before the CPU, so that it goes after it: the CPU unregisters itself
  // from the board's memory when destroyed (found by ASan).
  std::unique_ptr<hw::Board> board_;
  std::unique_ptr<RecordingDevice> device_;

 public:
  std::unique_ptr<Cpu> cpu;
};

}  // namespace tandem::accel::interp::testing
