// MMU tests (SDM vol. 3A ch. 4): identity without paging, 32-bit paging with
// 4 KiB/4 MiB pages, PAE, 4-level paging, rights, A/D bits, #PF error codes
// and CR2, the TLB (stale entries, INVLPG, global pages), split accesses,
// ROM/MMIO physical accesses and code-page invalidation.
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint64_t NX = 1ull << 63;

TEST(Mmu, IdentityWithoutPaging) {
  Machine m;
  m.W(0x12340, 4, 0xCAFEBABE);
  EXPECT_EQ(m.cpu->Translate(0x12345, Access::kWrite, true), 0x12345u);
  EXPECT_EQ(m.cpu->ReadLinear(0x12340, 4), 0xCAFEBABEu);
  m.cpu->WriteLinear(0x12342, 2, 0x1122);
  EXPECT_EQ(m.R(0x12340, 4), 0x1122BABEu);
}

// 32-bit paging: PD at 0x100000, PT at 0x101000.
struct Paging32 : Machine {
  Paging32() {
    s.cr3 = 0x100000;
    s.cr0 |= kCr0Pg;
    W(0x100000 + 1 * 4, 4, 0x101000 | P | RW | US);  // linear 0x400000..
    W(0x101000 + 0 * 4, 4, 0x200000 | P | RW | US);  // 0x400000 -> 0x200000
    W(0x101000 + 1 * 4, 4, 0x201000 | P | US);       // 0x401000 read-only
    W(0x101000 + 2 * 4, 4, 0x202000 | P | RW);       // 0x402000 supervisor
  }
};

TEST(Mmu, Paging32TranslatesAndSetsAccessedDirty) {
  Paging32 m;
  m.W(0x200010, 4, 0x55667788);
  EXPECT_EQ(m.cpu->ReadLinear(0x400010, 4), 0x55667788u);
  EXPECT_EQ(m.R(0x100004, 4) & (A | D), A);
  EXPECT_EQ(m.R(0x101000, 4) & (A | D), A);
  m.cpu->WriteLinear(0x400020, 4, 0x01020304);  // hits the read-only TLB entry, walks again for D
  EXPECT_EQ(m.R(0x200020, 4), 0x01020304u);
  EXPECT_EQ(m.R(0x101000, 4) & (A | D), A | D);
  EXPECT_EQ(m.R(0x100004, 4) & D, 0u);  // D lives in the PTE only
}

TEST(Mmu, Paging32FaultCodesAndCr2) {
  Paging32 m;
  EXPECT_FAULT(m.cpu->Translate(0x800123, Access::kRead, false), kPF, 0);
  EXPECT_EQ(m.s.cr2, 0x800123u);
  EXPECT_FAULT(m.cpu->Translate(0x403000, Access::kWrite, true), kPF, 2 | 4);  // PTE not present
  EXPECT_EQ(m.s.cr2, 0x403000u);
  EXPECT_FAULT(m.cpu->Translate(0x401004, Access::kWrite, true), kPF, 1 | 2 | 4);
  EXPECT_FAULT(m.cpu->Translate(0x402000, Access::kRead, true), kPF, 1 | 4);
  EXPECT_EQ(m.s.cr2, 0x402000u);
  // No NX without PAE: fetches from a supervisor page are fine for CPL 0, and
  // the I/D bit stays clear.
  EXPECT_EQ(m.cpu->Translate(0x402000, Access::kExecute, false), 0x202000u);
  EXPECT_FAULT(m.cpu->Translate(0x402000, Access::kExecute, true), kPF, 1 | 4);
  // Not-present faults leave the accessed bits alone.
  EXPECT_EQ(m.R(0x101000 + 12, 4), 0u);
}

TEST(Mmu, SupervisorWritesToReadOnlyFollowCr0Wp) {
  Paging32 m;
  m.cpu->WriteLinearSystem(0x401000, 4, 7);  // WP=0: allowed
  EXPECT_EQ(m.R(0x201000, 4), 7u);
  m.s.cr0 |= kCr0Wp;
  m.cpu->FlushTlb(true);
  EXPECT_FAULT(m.cpu->WriteLinearSystem(0x401000, 4, 8), kPF, 1 | 2);
  EXPECT_EQ(m.R(0x201000, 4), 7u);
}

TEST(Mmu, Pse4MiBPagesAndPse36) {
  Paging32 m;
  m.s.cr4 |= kCr4Pse;
  m.W(0x100000 + 2 * 4, 4, 0x00C00000 | P | RW | PS);          // 0x800000 -> 0xC00000
  m.W(0x100000 + 3 * 4, 4, 0x00400000 | (0x3ull << 13) | P | PS);  // 0xC00000 -> 0x3_0040_0000
  EXPECT_EQ(m.cpu->Translate(0x812345, Access::kWrite, false), 0xC12345u);
  EXPECT_EQ(m.R(0x100008, 4) & (A | D), A | D);
  EXPECT_EQ(m.cpu->Translate(0xC01234, Access::kRead, false), 0x300401234ull);
  // Bit 21 is reserved in a 4 MiB PDE with MAXPHYADDR 40.
  m.W(0x100000 + 4 * 4, 4, 0x01000000 | (1u << 21) | P | PS);
  EXPECT_FAULT(m.cpu->Translate(0x1000000, Access::kRead, false), kPF, 1 | 8);
  // Without CR4.PSE the PS bit is ignored: the PDE points at a page table.
  m.s.cr4 &= ~kCr4Pse;
  m.cpu->FlushTlb(true);
  m.W(0xC00000 + 0x12 * 4, 4, 0x203000 | P);
  EXPECT_EQ(m.cpu->Translate(0x812000, Access::kRead, false), 0x203000u);
}

// PAE: PDPT at 0x100000, PD at 0x101000, PT at 0x102000.
struct PagingPae : Machine {
  PagingPae() {
    s.cr3 = 0x100000;
    s.cr4 |= kCr4Pae;
    s.cr0 |= kCr0Pg;
    W(0x100000, 8, 0x101000 | P);
    W(0x101000 + 0 * 8, 8, 0x102000 | P | RW | US);
    W(0x101000 + 1 * 8, 8, 0x600000 | P | RW | US | PS);       // 0x200000: 2 MiB page
    W(0x102000 + 5 * 8, 8, 0x205000 | P | RW | US | NX);       // 0x5000, no-execute
  }
};

TEST(Mmu, PaeTwoMiBPagesAndNx) {
  PagingPae m;
  EXPECT_EQ(m.cpu->Translate(0x2ABCDE, Access::kRead, true), 0x6ABCDEu);
  // NX without EFER.NXE is a reserved bit.
  EXPECT_FAULT(m.cpu->Translate(0x5000, Access::kRead, false), kPF, 1 | 8);
  m.s.msr.efer |= kEferNxe;
  m.cpu->FlushTlb(true);
  EXPECT_EQ(m.cpu->Translate(0x5010, Access::kRead, false), 0x205010u);
  EXPECT_FAULT(m.cpu->Translate(0x5010, Access::kExecute, false), kPF, 1 | 16);
  EXPECT_EQ(m.s.cr2, 0x5010u);
  // Instruction fetch from a not-present page reports I/D too.
  EXPECT_FAULT(m.cpu->Translate(0x6000, Access::kExecute, true), kPF, 4 | 16);
}

TEST(Mmu, PaeReservedBitsAboveMaxPhysAddr) {
  PagingPae m;
  m.W(0x102000 + 7 * 8, 8, (1ull << 45) | 0x207000 | P);
  EXPECT_FAULT(m.cpu->Translate(0x7000, Access::kRead, false), kPF, 1 | 8);
  m.W(0x100000 + 1 * 8, 8, 0x103000 | P | RW);  // RW is reserved in a legacy PDPTE
  EXPECT_FAULT(m.cpu->Translate(0x40000000, Access::kWrite, true), kPF, 1 | 2 | 4 | 8);
}

// 4-level: PML4 0x100000, PDPT 0x101000, PD 0x102000, PT 0x103000.
struct Paging64 : Machine {
  Paging64() {
    s.cr3 = 0x100000;
    s.cr4 |= kCr4Pae;
    s.cr0 |= kCr0Pg;
    s.msr.efer |= kEferLme | kEferLma | kEferNxe;
    s.seg[kCs].attrib = kCode64;
    W(0x100000 + 0 * 8, 8, 0x101000 | P | RW | US);
    W(0x100000 + 511 * 8, 8, 0x104000 | P | RW);               // top 512 GiB, supervisor
    W(0x101000 + 0 * 8, 8, 0x102000 | P | RW | US);
    W(0x101000 + 1 * 8, 8, 0x40000000 | P | RW | US | PS);    // 1 GiB page at 1 GiB -> 1 GiB
    W(0x102000 + 0 * 8, 8, 0x103000 | P | RW | US);
    W(0x103000 + 9 * 8, 8, 0x209000 | P | RW | US);
    W(0x104000 + 510 * 8, 8, 0x105000 | P | RW);
    W(0x105000 + 0 * 8, 8, 0x400000 | P | RW | PS);           // 2 MiB at 0xFFFFFFFF80000000
  }
};

TEST(Mmu, FourLevelPagesAccessedDirty) {
  Paging64 m;
  EXPECT_EQ(m.cpu->Translate(0x9ABC, Access::kWrite, true), 0x209ABCu);
  for (uint64_t a : {0x100000ull, 0x101000ull, 0x102000ull}) EXPECT_EQ(m.R(a, 8) & (A | D), A) << std::hex << a;
  EXPECT_EQ(m.R(0x103000 + 9 * 8, 8) & (A | D), A | D);
  EXPECT_EQ(m.cpu->Translate(0x7FFFF123, Access::kRead, true), 0x7FFFF123u);
  EXPECT_EQ(m.cpu->Translate(0xFFFFFFFF80012345ull, Access::kRead, false), 0x412345u);
  EXPECT_FAULT(m.cpu->Translate(0xFFFFFFFF80012345ull, Access::kRead, true), kPF, 1 | 4);
  EXPECT_EQ(m.s.cr2, 0xFFFFFFFF80012345ull);
  // Address bits below 2 MiB in a 2 MiB PDE are reserved.
  m.W(0x105000 + 1 * 8, 8, 0x300000 | P | RW | PS);
  EXPECT_FAULT(m.cpu->Translate(0xFFFFFFFF80200000ull, Access::kRead, false), kPF, 1 | 8);
  // PS in a PML4E is reserved.
  m.W(0x100000 + 1 * 8, 8, 0x101000 | P | PS);
  EXPECT_FAULT(m.cpu->Translate(0x8000000000ull, Access::kRead, false), kPF, 1 | 8);
}

TEST(Mmu, TlbKeepsStaleEntriesUntilInvalidated) {
  Paging64 m;
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x209000u);
  m.W(0x103000 + 9 * 8, 8, 0x20A000 | P | RW | US);
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x209000u);  // cached
  m.cpu->InvalidatePage(0x9FFF);
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x20A000u);
  // INVLPG of any address in a large page drops entries for all of it.
  EXPECT_EQ(m.cpu->Translate(0x40123000, Access::kRead, false), 0x40123000u);
  m.W(0x101000 + 1 * 8, 8, 0x80000000 | P | RW | US | PS);
  m.cpu->InvalidatePage(0x40000000);
  EXPECT_EQ(m.cpu->Translate(0x40123000, Access::kRead, false), 0x80123000u);
}

// 0x9000 mapped by a global entry, 0xA000 by one that is not, both cached
// (`refills` times over for 0xA000, each after an INVLPG); then both are
// remapped: a CR3 flush keeps the global translation, a full flush drops it.
void ExpectFlushesDropWhatTheyShould(unsigned refills) {
  Paging64 m;
  m.s.cr4 |= kCr4Pge;
  m.W(0x103000 + 9 * 8, 8, 0x209000 | P | RW | G);
  m.W(0x103000 + 10 * 8, 8, 0x20A000 | P | RW);
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x209000u);
  EXPECT_EQ(m.cpu->Translate(0xA000, Access::kRead, false), 0x20A000u);
  for (unsigned i = 0; i < refills; ++i) {
    m.cpu->InvalidatePage(0xA000);
    ASSERT_EQ(m.cpu->Translate(0xA000, Access::kRead, false), 0x20A000u);
  }
  m.W(0x103000 + 9 * 8, 8, 0x219000 | P | RW | G);
  m.W(0x103000 + 10 * 8, 8, 0x21A000 | P | RW);
  m.cpu->FlushTlb(false);
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x209000u);  // global: kept
  EXPECT_EQ(m.cpu->Translate(0xA000, Access::kRead, false), 0x21A000u);
  m.cpu->FlushTlb(true);
  EXPECT_EQ(m.cpu->Translate(0x9000, Access::kRead, false), 0x219000u);
}

TEST(Mmu, GlobalEntriesSurviveCr3Flush) { ExpectFlushesDropWhatTheyShould(0); }

// A flush looks only at the slots in use (Tlb::filled), a list that an
// INVLPG and refill of one slot grows until it is rebuilt from a scan:
// every valid slot must still be on it, whenever the rebuild falls.
TEST(Mmu, FlushesFindEverySlotAfterManyRefills) {
  for (unsigned refills = 2 * Tlb::kInterpEntries - 12; refills <= 2 * Tlb::kInterpEntries + 8; ++refills) {
    SCOPED_TRACE(refills);
    ExpectFlushesDropWhatTheyShould(refills);
  }
}

TEST(Mmu, SplitWriteFaultsBeforeWritingEitherPage) {
  Paging64 m;
  m.W(0x209FFC, 8, 0x1111111111111111ull);
  // 0xA000 is not mapped: the write crossing into it must not touch 0x9FFE.
  EXPECT_FAULT(m.cpu->WriteLinear(0x9FFE, 4, 0xAABBCCDD), kPF, 2);
  EXPECT_EQ(m.s.cr2, 0xA000u);
  EXPECT_EQ(m.R(0x209FFC, 8), 0x1111111111111111ull);
  m.W(0x103000 + 10 * 8, 8, 0x300000 | P | RW);
  m.cpu->WriteLinear(0x9FFE, 4, 0xAABBCCDD);
  EXPECT_EQ(m.R(0x209FFE, 2), 0xCCDDu);
  EXPECT_EQ(m.R(0x300000, 2), 0xAABBu);
  EXPECT_EQ(m.cpu->ReadLinear(0x9FFD, 8), 0xAABBCCDD11ull | (m.R(0x300002, 3) << 40));
}

TEST(Mmu, RomWritesIgnoredAndUnassignedMmioReadsOnes) {
  hw::BoardConfig config;
  config.ram_size = 16ull << 20;
  config.bios.assign(64 * 1024, 0x5A);
  auto b = hw::Board::Create(config);
  ASSERT_TRUE(b.ok());
  CpuState s = Flat32State(0);
  Cpu cpu(**b, s);
  EXPECT_EQ(cpu.ReadPhys(0xFFFFFFF0, 4), 0x5A5A5A5Au);
  cpu.WritePhys(0xFFFFFFF0, 4, 0);
  EXPECT_EQ(cpu.ReadPhys(0xFFFFFFF0, 4), 0x5A5A5A5Au);
  cpu.WriteLinear(0xFFFF0, 1, 0);  // the alias below 1 MiB, through the TLB
  EXPECT_EQ(cpu.ReadLinear(0xFFFF0, 1), 0x5Au);
  EXPECT_EQ(cpu.ReadPhys(0xF0000000, 4), 0xFFFFFFFFu);
}

TEST(Mmu, WritesThroughTheTlbDropStaleDecodes) {
  Machine m;
  m.Bytes(0x10000, {0x40});  // inc eax
  m.s.gpr[kRax] = 5;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 6u);
  EXPECT_TRUE(m.cpu->IsCodePage(0x10000));
  m.cpu->WriteLinear(0x10000, 1, 0x48);  // dec eax
  m.s.rip = 0x10000;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 5u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
