// Segmentation tests (SDM vol. 3A ch. 3, 5): real-mode and protected-mode
// limit and type checks, expand-down segments, 64-bit canonical checks and
// FS/GS bases, descriptor loads with their hidden parts and faults, CPL.
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000;
// Selectors of the test GDT.
constexpr uint16_t kSelCode = 0x08, kSelData = 0x10, kSelRo = 0x18, kSelDown = 0x20, kSelExecOnly = 0x28,
                   kSelData3 = 0x30, kSelAbsent = 0x38, kSelReadCode = 0x40, kSelCode3 = 0x48;

struct Protected : Machine {
  Protected() {
    Gdt(kGdt, {
                  0,
                  Desc(0, 0xFFFFF, kCode32),
                  Desc(0x12345000, 0xF, kData32),  // 16 pages: 64 KiB
                  Desc(0x40000, 0xFFF, 0x1 | Segment::kS | Segment::kP | Segment::kDb),    // read-only
                  Desc(0x50000, 0xFFF, 0x7 | Segment::kS | Segment::kP | Segment::kDb),    // expand-down RW
                  Desc(0, 0xFFFF, 0x9 | Segment::kS | Segment::kP),                        // execute-only
                  Desc(0, 0xFFFFF, kData32 | kDpl3),
                  Desc(0, 0xFFFFF, kData32 & ~Segment::kP),
                  Desc(0x60000, 0xFFFF, 0xB | Segment::kS | Segment::kP),                  // readable code
                  Desc(0, 0xFFFFF, kCode32 | kDpl3),
              });
  }
};

TEST(Segmentation, CplFollowsModeAndSsDpl) {
  Machine m;
  EXPECT_EQ(m.cpu->cpl(), 0);
  m.s.seg[kSs].attrib |= kDpl3;
  EXPECT_EQ(m.cpu->cpl(), 3);
  m.s.cr0 &= ~kCr0Pe;
  EXPECT_EQ(m.cpu->cpl(), 0);
  m.s.cr0 |= kCr0Pe;
  m.s.seg[kSs].attrib &= ~kDpl3;
  m.s.rflags |= kFlagVm;
  EXPECT_EQ(m.cpu->cpl(), 3);
}

TEST(Segmentation, RealModeLoadsAndLimits) {
  Machine m;
  m.s = ResetState();
  m.cpu->LoadSegment(kDs, 0x1234);
  EXPECT_EQ(m.s.seg[kDs].selector, 0x1234);
  EXPECT_EQ(m.s.seg[kDs].base, 0x12340u);
  EXPECT_EQ(m.s.seg[kDs].limit, 0xFFFFu);
  EXPECT_EQ(m.cpu->Linearize(kDs, 0xFFFE, 2, Access::kRead), 0x2233Eu);
  EXPECT_FAULT(m.cpu->Linearize(kDs, 0xFFFF, 2, Access::kRead), kGP, 0);
  EXPECT_FAULT(m.cpu->Linearize(kSs, 0xFFFF, 2, Access::kWrite), kSS, 0);
  // Unreal mode: a 4 GiB limit cached in protected mode survives real-mode loads.
  m.s.seg[kEs].limit = 0xFFFFFFFF;
  m.cpu->LoadSegment(kEs, 0);
  EXPECT_EQ(m.cpu->Linearize(kEs, 0x200000, 4, Access::kWrite), 0x200000u);
  // v8086 loads set a 64 KiB DPL 3 data segment.
  m.s.cr0 |= kCr0Pe;
  m.s.rflags |= kFlagVm;
  m.cpu->LoadSegment(kEs, 0x2000);
  EXPECT_EQ(m.s.seg[kEs].base, 0x20000u);
  EXPECT_EQ(m.s.seg[kEs].limit, 0xFFFFu);
  EXPECT_EQ(m.s.seg[kEs].dpl(), 3);
}

TEST(Segmentation, ProtectedLoadFillsHiddenPartAndSetsAccessed) {
  Protected m;
  m.cpu->LoadSegment(kDs, kSelData);
  const Segment& ds = m.s.seg[kDs];
  EXPECT_EQ(ds.selector, kSelData);
  EXPECT_EQ(ds.base, 0x12345000u);
  EXPECT_EQ(ds.limit, 0xFFFFu);  // 0xF pages
  EXPECT_EQ(ds.attrib, 0x3u | Segment::kS | Segment::kP | Segment::kDb | Segment::kG);
  EXPECT_EQ((m.R(kGdt + kSelData + 5, 1) & 1), 1u);  // accessed bit written back
  m.cpu->LoadSegment(kSs, kSelData);
  EXPECT_EQ(m.s.seg[kSs].base, 0x12345000u);
  m.cpu->LoadSegment(kFs, kSelReadCode);
  EXPECT_EQ(m.s.seg[kFs].base, 0x60000u);
  EXPECT_EQ(m.s.seg[kFs].type(), 0xBu);
}

TEST(Segmentation, ProtectedLoadFaults) {
  Protected m;
  EXPECT_FAULT(m.cpu->LoadSegment(kDs, 0x50), kGP, 0x50);        // beyond the GDT limit
  EXPECT_FAULT(m.cpu->LoadSegment(kDs, 0x54), kGP, 0x54);        // LDT: none loaded
  EXPECT_FAULT(m.cpu->LoadSegment(kDs, kSelExecOnly), kGP, kSelExecOnly);
  EXPECT_FAULT(m.cpu->LoadSegment(kDs, kSelAbsent), kNP, kSelAbsent);
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, kSelAbsent), kSS, kSelAbsent);
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, kSelRo), kGP, kSelRo);
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, kSelCode), kGP, kSelCode);
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, kSelData3 | 3), kGP, kSelData3);  // RPL != CPL
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, kSelData3), kGP, kSelData3);      // DPL != CPL
  EXPECT_FAULT(m.cpu->LoadSegment(kSs, 0), kGP, 0);
  // CPL 3 may not load a DPL 0 data segment, nor use RPL 0 tricks.
  m.s.seg[kSs] = Segment{static_cast<uint16_t>(kSelData3 | 3), 0, 0xFFFFFFFF, kData32 | kDpl3};
  EXPECT_FAULT(m.cpu->LoadSegment(kDs, kSelData), kGP, kSelData);
  m.cpu->LoadSegment(kDs, kSelData3 | 3);
  EXPECT_EQ(m.s.seg[kDs].dpl(), 3);
  // Null selectors: fine for DS, unusable afterwards.
  m.cpu->LoadSegment(kEs, 0);
  EXPECT_TRUE(m.s.seg[kEs].unusable());
  EXPECT_FAULT(m.cpu->ReadMem(kEs, 0, 1), kGP, 0);
}

TEST(Segmentation, LdtSelectors) {
  Protected m;
  m.W(0x3000 + 8, 8, Desc(0x70000, 0xFF, 0x3 | Segment::kS | Segment::kP));
  m.s.ldtr = Segment{0x50, 0x3000, 0xF, 0x2 | Segment::kP};
  m.cpu->LoadSegment(kGs, 0x0C);
  EXPECT_EQ(m.s.seg[kGs].base, 0x70000u);
  EXPECT_EQ(m.s.seg[kGs].limit, 0xFFu);
  EXPECT_FAULT(m.cpu->LoadSegment(kGs, 0x14), kGP, 0x14);  // beyond the LDT limit
}

TEST(Segmentation, ProtectedAccessChecks) {
  Protected m;
  m.cpu->LoadSegment(kDs, kSelRo);
  EXPECT_EQ(m.cpu->Linearize(kDs, 0xFFC, 4, Access::kRead), 0x40FFCu);
  EXPECT_FAULT(m.cpu->Linearize(kDs, 0, 1, Access::kWrite), kGP, 0);
  EXPECT_FAULT(m.cpu->Linearize(kDs, 0xFFD, 4, Access::kRead), kGP, 0);
  // Writes through CS, reads of execute-only code.
  EXPECT_FAULT(m.cpu->WriteMem(kCs, 0x100, 4, 0), kGP, 0);
  m.s.seg[kCs] = Segment{kSelExecOnly, 0, 0xFFFF, 0x9 | Segment::kS | Segment::kP};
  EXPECT_FAULT(m.cpu->ReadMem(kCs, 0x100, 4), kGP, 0);
  // Expand-down: offsets above the limit are valid, up to 4 GiB with B=1
  // and up to 64 KiB with B=0.
  m.cpu->LoadSegment(kEs, kSelDown);
  EXPECT_FAULT(m.cpu->Linearize(kEs, 0xFFF, 1, Access::kWrite), kGP, 0);
  EXPECT_EQ(m.cpu->Linearize(kEs, 0x1000, 4, Access::kWrite), 0x51000u);
  EXPECT_EQ(m.cpu->Linearize(kEs, 0xFFFFFFFC, 4, Access::kWrite), (0x50000u + 0xFFFFFFFCu) & 0xFFFFFFFF);
  m.s.seg[kEs].attrib &= ~Segment::kDb;
  EXPECT_FAULT(m.cpu->Linearize(kEs, 0xFFFF, 2, Access::kRead), kGP, 0);
  // SS-relative faults are #SS.
  m.s.seg[kSs] = m.s.seg[kEs];
  EXPECT_FAULT(m.cpu->Linearize(kSs, 0x10, 2, Access::kRead), kSS, 0);
}

TEST(Segmentation, SixtyFourBitModeCanonicalAndFsGs) {
  Machine m;
  m.s.msr.efer |= kEferLme | kEferLma;
  m.s.cr4 |= kCr4Pae;
  m.s.seg[kCs].attrib = kCode64;
  m.s.seg[kDs].base = 0x1000;  // ignored in 64-bit mode
  m.s.seg[kFs].base = 0x7000000000ull;
  m.s.seg[kDs].limit = 0;
  EXPECT_EQ(m.cpu->Linearize(kDs, 0x123456789ull, 8, Access::kWrite), 0x123456789ull);
  EXPECT_EQ(m.cpu->Linearize(kFs, 0x10, 8, Access::kRead), 0x7000000010ull);
  EXPECT_FAULT(m.cpu->Linearize(kDs, 0x0000800000000000ull, 1, Access::kRead), kGP, 0);
  EXPECT_FAULT(m.cpu->Linearize(kDs, 0x00007FFFFFFFFFFCull, 8, Access::kRead), kGP, 0);
  EXPECT_FAULT(m.cpu->Linearize(kSs, 0x8000000000000000ull, 8, Access::kRead), kSS, 0);
  EXPECT_EQ(m.cpu->Linearize(kSs, 0xFFFF800000000000ull, 8, Access::kRead), 0xFFFF800000000000ull);
  // Null SS at CPL 0 in 64-bit mode.
  m.cpu->LoadSegment(kSs, 0);
  EXPECT_TRUE(m.s.seg[kSs].unusable());
  EXPECT_EQ(m.cpu->cpl(), 0);
  // The null FS keeps working, with base 0 (Intel behaviour).
  m.cpu->LoadSegment(kFs, 0);
  EXPECT_EQ(m.cpu->Linearize(kFs, 0x20, 1, Access::kRead), 0x20u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
