// A board with several CPUs (issue #11): one local APIC and socket per CPU,
// each CPU reaching its own APIC at the same address, IPIs that wake the
// target's vCPU, the CPU count in fw_cfg, the MADT and the MP table, and
// CPUID's initial APIC ID per CPU.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "hw/board.h"
#include "hw/loader/acpi_tables.h"
#include "hw/loader/mptable.h"
#include "hw/pc_layout.h"
#include "target-x86/cpuid.h"

namespace tandem::hw {
namespace {

constexpr uint64_t kApic = layout::kLapicBase;

std::unique_ptr<Board> MakeBoard(int cpus) {
  BoardConfig config;
  config.ram_size = 32 << 20;
  config.cpu_count = cpus;
  auto board = Board::Create(std::move(config));
  EXPECT_TRUE(board.ok()) << board.message();
  return board.ok() ? std::move(board.value()) : nullptr;
}

TEST(BoardCpus, CountIsCheckedAtCreation) {
  for (int bad : {0, -1, layout::kMaxCpus + 1}) {
    BoardConfig config;
    config.ram_size = 16 << 20;
    config.cpu_count = bad;
    auto board = Board::Create(std::move(config));
    ASSERT_FALSE(board.ok()) << bad;
    EXPECT_NE(board.message().find("CPU count"), std::string::npos) << board.message();
  }
  EXPECT_NE(MakeBoard(layout::kMaxCpus), nullptr);
}

TEST(BoardCpus, EachCpuReadsItsOwnApicAtTheSameAddress) {
  auto board = MakeBoard(4);
  ASSERT_EQ(board->cpu_count(), 4);
  for (int i = 0; i < 4; ++i) {
    CpuSocket& cpu = board->cpu(i);
    EXPECT_EQ(cpu.index(), i);
    EXPECT_EQ(cpu.MmioRead(kApic + LocalApic::kId, 4) >> 24, static_cast<uint64_t>(i));
    // Only CPU 0 is the BSP (IA32_APIC_BASE bit 8).
    EXPECT_EQ((cpu.apic_base() & LocalApic::kBaseBsp) != 0, i == 0);
  }
  board->cpu(2).MmioWrite(kApic + LocalApic::kTpr, 4, 0x50);
  EXPECT_EQ(board->cpu(2).tpr(), 0x50);
  EXPECT_EQ(board->cpu(1).tpr(), 0);
  // The I/O APIC sits on the shared bus and takes the ID after the CPUs'.
  board->cpu(3).MmioWrite(layout::kIoApicBase, 4, 0);  // IOREGSEL: ID
  EXPECT_EQ((board->cpu(1).MmioRead(layout::kIoApicBase + 0x10, 4) >> 24) & 0xF, 4u);
}

TEST(BoardCpus, FixedIpiWakesTheTargetAndItAloneTakesIt) {
  auto board = MakeBoard(2);
  int wakes[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    board->cpu(i).SetCpuLinks({[&wakes, i] { ++wakes[i]; }, nullptr, nullptr});
    board->cpu(i).MmioWrite(kApic + LocalApic::kSvr, 4, 0x1FF);
  }
  // Neither has anything pending: the acknowledge clears the hint.
  EXPECT_FALSE(board->cpu(1).AcknowledgeInterrupt().has_value());
  EXPECT_FALSE(board->cpu(1).MaybeInterrupt());
  board->cpu(0).MmioWrite(kApic + LocalApic::kIcrHigh, 4, 1u << 24);
  board->cpu(0).MmioWrite(kApic + LocalApic::kIcrLow, 4, 0x4041);  // fixed, physical, vector 0x41
  EXPECT_EQ(wakes[1], 1);
  EXPECT_TRUE(board->cpu(1).MaybeInterrupt());
  EXPECT_FALSE(board->cpu(0).AcknowledgeInterrupt().has_value());
  EXPECT_EQ(board->cpu(1).AcknowledgeInterrupt(), std::optional<uint8_t>(0x41));
  for (int i = 0; i < 2; ++i) board->cpu(i).SetCpuLinks({});
}

TEST(BoardCpus, InitAndStartupIpisReachTheCpuLinks) {
  auto board = MakeBoard(3);
  std::vector<int> inits(3), sipis(3, -1);
  for (int i = 0; i < 3; ++i) {
    board->cpu(i).SetCpuLinks({nullptr, [&inits, i] { ++inits[i]; }, [&sipis, i](uint8_t v) { sipis[i] = v; }});
  }
  board->cpu(0).MmioWrite(kApic + LocalApic::kIcrLow, 4, (3u << 18) | (1u << 14) | (5u << 8));  // INIT others
  board->cpu(0).MmioWrite(kApic + LocalApic::kIcrLow, 4, (3u << 18) | (1u << 14) | (6u << 8) | 0x9A);
  EXPECT_EQ(inits, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(sipis, (std::vector<int>{-1, 0x9A, 0x9A}));
  for (int i = 0; i < 3; ++i) board->cpu(i).SetCpuLinks({});
}

// The device lock serializes CPUs hammering one device from many threads:
// the scratch register of COM1 (offset 7) ends with one of the written values
// and the PIC's interrupt mask register survives read-modify-write under it.
TEST(BoardCpus, PortAccessesFromSeveralThreadsAreSerialized) {
  auto board = MakeBoard(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&board, i] {
      for (int n = 0; n < 20000; ++n) {
        board->cpu(i).PioWrite(layout::kCom1Port + 7, 1, static_cast<uint64_t>(i));
        (void)board->cpu(i).PioRead(layout::kCom1Port + 7, 1);
        board->Poll();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LT(board->cpu(0).PioRead(layout::kCom1Port + 7, 1), 4u);
}

TEST(BoardCpus, FwCfgMadtAndMpTableDescribeEveryCpu) {
  auto board = MakeBoard(4);
  // fw_cfg item 0x05 (FW_CFG_NB_CPUS).
  board->cpu(0).PioWrite(layout::kFwCfgPort, 2, 0x05);
  uint64_t n = board->cpu(0).PioRead(layout::kFwCfgPort + 1, 1) | board->cpu(0).PioRead(layout::kFwCfgPort + 1, 1) << 8;
  EXPECT_EQ(n, 4u);

  AcpiTables tables = BuildAcpiTables(AcpiConfigFor(board->memory_map(), 4));
  const std::vector<uint8_t>& t = tables.tables;
  size_t madt = 0;
  for (size_t i = 0; i + 4 <= t.size(); ++i) {
    if (std::memcmp(&t[i], "APIC", 4) == 0) madt = i;
  }
  ASSERT_NE(madt, 0u);
  uint32_t length;
  std::memcpy(&length, &t[madt + 4], 4);
  std::vector<int> lapic_ids;
  int ioapic_id = -1;
  for (size_t p = madt + 44; p < madt + length; p += t[p + 1]) {
    if (t[p] == 0) lapic_ids.push_back(t[p + 3]);
    if (t[p] == 1) ioapic_id = t[p + 2];
  }
  EXPECT_EQ(lapic_ids, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(ioapic_id, 4);

  MpTableConfig mp;
  mp.cpu_count = 4;
  ASSERT_TRUE(WriteMpTable(board->memory(), mp).ok());
  std::vector<uint8_t> b(MpTableSize(4));
  ASSERT_TRUE(board->memory().ReadPhys(mp.address, b.data(), b.size()));
  int processors = 0, bsps = 0;
  for (size_t p = 16 + 44; p < b.size();) {
    if (b[p] == 0) {
      EXPECT_EQ(b[p + 1], processors) << "APIC IDs in order";
      ++processors;
      bsps += (b[p + 3] & 2) != 0;
      p += 20;
    } else {
      if (b[p] == 2) {
        EXPECT_EQ(b[p + 1], 4) << "I/O APIC ID";
      }
      p += 8;
    }
  }
  EXPECT_EQ(processors, 4);
  EXPECT_EQ(bsps, 1);
  // The ACPI tables a direct boot writes do not overlap the largest MP table.
  EXPECT_LE(layout::kFirmwareTablesStart + MpTableSize(layout::kMaxCpus), AcpiTablesConfig{}.address);
}

TEST(BoardCpus, CpuidGivesEachCpuItsInitialApicId) {
  x86::CpuidModel model = x86::CpuidModel::Default();
  for (uint8_t id : {0, 1, 7, 63}) {
    x86::CpuidResult r = model.QueryForCpu(1, 0, id);
    EXPECT_EQ(r.ebx >> 24, id);
    EXPECT_EQ(r.ebx & 0x00FFFFFF, model.Query(1, 0).ebx & 0x00FFFFFF);
    EXPECT_EQ(r.eax, model.Query(1, 0).eax);
  }
}

}  // namespace
}  // namespace tandem::hw
