// A vCPU on a 16 MiB board for the system-side tests (MMU, segmentation,
// interrupts, system instructions): helpers to build descriptors and tables
// in guest RAM and to run one instruction with its fault thrown to the test.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "accel/interp/cpu.h"
#include "hw/board.h"
#include "hw/clock.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel::interp::systest {

using namespace x86;

inline constexpr uint32_t kCode32 = 0xB | Segment::kS | Segment::kP | Segment::kDb | Segment::kG;
inline constexpr uint32_t kData32 = 0x3 | Segment::kS | Segment::kP | Segment::kDb | Segment::kG;
inline constexpr uint32_t kCode64 = 0xB | Segment::kS | Segment::kP | Segment::kL | Segment::kG;
inline constexpr uint32_t kDpl3 = 3u << Segment::kDplShift;

// An 8-byte segment descriptor from base, limit (raw, before G) and VMX attributes.
inline uint64_t Desc(uint32_t base, uint32_t limit, uint32_t attrib) {
  return (limit & 0xFFFFull) | (uint64_t{base & 0xFFFFFF} << 16) | (uint64_t{attrib & 0xFF} << 40) |
         (uint64_t{(limit >> 16) & 0xF} << 48) | (uint64_t{(attrib >> 12) & 0xF} << 52) |
         (uint64_t{base >> 24} << 56);
}

// A 32-bit IDT gate (type 0xE interrupt, 0xF trap, 0x6/0x7 16-bit).
inline uint64_t Gate32(uint16_t sel, uint32_t offset, uint32_t type, int dpl = 0, bool present = true) {
  return (offset & 0xFFFF) | (uint64_t{sel} << 16) | (uint64_t{type} << 40) | (uint64_t(dpl) << 45) |
         (uint64_t{present} << 47) | (uint64_t{offset >> 16} << 48);
}

struct Machine {
  explicit Machine(uint64_t ram = 16ull << 20, hw::Clock* clock = nullptr) {
    hw::BoardConfig config;
    config.ram_size = ram;
    config.clock = clock;
    auto b = hw::Board::Create(config);
    EXPECT_TRUE(b.ok());
    board = std::move(*b);
    s = Flat32State(0x10000);
    s.gpr[kRsp] = 0x9000;
    cpu = std::make_unique<Cpu>(*board, s);
  }

  void W(uint64_t pa, unsigned size, uint64_t v) { ASSERT_TRUE(board->memory().WritePhys(pa, &v, size)); }
  uint64_t R(uint64_t pa, unsigned size) {
    uint64_t v = 0;
    EXPECT_TRUE(board->memory().ReadPhys(pa, &v, size));
    return v;
  }
  void Bytes(uint64_t pa, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(board->memory().WritePhys(pa, bytes.data(), bytes.size()));
  }
  void Gdt(uint64_t base, const std::vector<uint64_t>& descs) {
    for (size_t i = 0; i < descs.size(); ++i) W(base + i * 8, 8, descs[i]);
    s.gdtr = {base, static_cast<uint16_t>(descs.size() * 8 - 1)};
  }

  // Runs the instruction at CS:RIP as the run loop does, but lets a fault
  // reach the caller (RIP stays at the instruction then).
  void Exec() {
    const DecodedInsn& insn = cpu->Fetch();
    uint64_t next = s.rip + insn.length;
    if (!(s.msr.efer & kEferLma && s.seg[kCs].l())) next &= s.seg[kCs].db() ? 0xFFFFFFFFull : 0xFFFFull;
    cpu->next_rip = next;
    cpu->s.interrupt_shadow = false;
    insn.handler(*cpu, insn);
    s.rip = cpu->next_rip;
  }

  std::unique_ptr<hw::Board> board;
  CpuState s;
  std::unique_ptr<Cpu> cpu;
};

// The fault f throws, or nullopt.
inline std::optional<GuestFault> FaultOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const GuestFault& fault) {
    return fault;
  }
  return std::nullopt;
}

// Asserts that f raises vector with error code ec (-1: no error code).
#define EXPECT_FAULT(expr, vec, ec)                                                      \
  do {                                                                                   \
    auto fault_ = ::tandem::accel::interp::systest::FaultOf([&] { (void)(expr); });      \
    ASSERT_TRUE(fault_.has_value()) << "no fault from " #expr;                           \
    EXPECT_EQ(fault_->vector, (vec)) << #expr;                                           \
    if ((ec) < 0) {                                                                      \
      EXPECT_FALSE(fault_->has_error_code) << #expr;                                     \
    } else {                                                                             \
      EXPECT_TRUE(fault_->has_error_code) << #expr;                                      \
      EXPECT_EQ(fault_->error_code, static_cast<uint32_t>(ec)) << #expr;                 \
    }                                                                                    \
  } while (0)

}  // namespace tandem::accel::interp::systest
