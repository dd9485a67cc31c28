// String, control-transfer, port I/O and flag handlers.
#include <gtest/gtest.h>

#include "accel/interp/flags.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

TEST(InterpString, RepMovsAndStos) {
  Machine m({0xF3, 0xA4, 0xF3, 0xAB});  // rep movsb; rep stosd
  for (int i = 0; i < 10; ++i) m.Write(kData + i, 1, i + 1);
  m.reg(kRsi) = kData;
  m.reg(kRdi) = kData + 0x100;
  m.reg(kRcx) = 10;
  m.Step();
  EXPECT_EQ(m.reg(kRcx), 0u);
  EXPECT_EQ(m.reg(kRsi), kData + 10);
  EXPECT_EQ(m.reg(kRdi), kData + 0x10A);
  EXPECT_EQ(m.Read(kData + 0x100, 8), 0x0807060504030201u);
  EXPECT_EQ(m.s.rip, kCode + 2);
  m.reg(kRax) = 0xDEADBEEF;
  m.reg(kRcx) = 3;
  m.reg(kRdi) = kData + 0x200;
  m.Step();
  EXPECT_EQ(m.Read(kData + 0x208, 4), 0xDEADBEEFu);
  EXPECT_EQ(m.reg(kRdi), kData + 0x20C);
}

TEST(InterpString, CompareAndScanStopOnCondition) {
  Machine m({0xF3, 0xA6, 0xF2, 0xAE});  // repe cmpsb; repne scasb
  m.Load(kData, {'a', 'b', 'c', 'd'});
  m.Load(kData + 0x10, {'a', 'b', 'X', 'd'});
  m.reg(kRsi) = kData;
  m.reg(kRdi) = kData + 0x10;
  m.reg(kRcx) = 4;
  m.Step();
  EXPECT_EQ(m.reg(kRcx), 1u);  // stopped after the mismatch at index 2
  EXPECT_FALSE(m.flag(kFlagZf));
  EXPECT_EQ(m.reg(kRsi), kData + 3);
  m.reg(kRax) = 'c';
  m.reg(kRdi) = kData;
  m.reg(kRcx) = 100;
  m.Step();
  EXPECT_TRUE(m.flag(kFlagZf));
  EXPECT_EQ(m.reg(kRdi), kData + 3);
  EXPECT_EQ(m.reg(kRcx), 97u);
}

TEST(InterpString, DirectionFlagAndSegmentOverride) {
  Machine m({0xFD, 0x64, 0xAC, 0xFC});  // std; lodsb fs:[esi]; cld
  m.s.seg[kFs].base = 0x1000;
  m.Write(0x1000 + kData, 1, 0x5A);
  m.reg(kRsi) = kData;
  m.Step(2);
  EXPECT_EQ(m.reg(kRax) & 0xFF, 0x5Au);
  EXPECT_EQ(m.reg(kRsi), kData - 1);
  m.Step();
  EXPECT_FALSE(m.flag(kFlagDf));
}

TEST(InterpString, SixteenBitAddressesWrap) {
  Machine m({0xF3, 0xA4}, Mode::kReal);  // rep movsb with SI/DI/CX
  m.s.seg[kDs] = Segment{0x3000, 0x30000, 0xFFFF, m.s.seg[kDs].attrib};
  m.s.seg[kEs] = Segment{0x4000, 0x40000, 0xFFFF, m.s.seg[kEs].attrib};
  m.Write(0x3FFFF, 1, 0x11);
  m.Write(0x30000, 1, 0x22);
  m.reg(kRsi) = 0xABCD'FFFF;  // the upper bits are not part of SI
  m.reg(kRdi) = 0x10;
  m.reg(kRcx) = 0x1'0002;  // CX = 2
  m.Step();
  EXPECT_EQ(m.Read(0x40010, 2), 0x2211u);
  EXPECT_EQ(m.reg(kRsi), 0xABCD'0001u);
  EXPECT_EQ(m.reg(kRcx), 0x1'0000u);
}

TEST(InterpString, LongRepYieldsAndResumes) {
  Machine m({0xF3, 0xAA});  // rep stosb
  m.reg(kRdi) = kData;
  m.reg(kRcx) = 10000;
  m.reg(kRax) = 0x77;
  m.Step();
  EXPECT_EQ(m.s.rip, kCode);  // not finished: the instruction runs again
  EXPECT_GT(m.reg(kRcx), 0u);
  EXPECT_TRUE(m.flag(kFlagRf));  // what an interrupt between iterations pushes (SDM vol. 3A 17.3.1.1)
  m.Step(2);  // 4096 iterations per step
  EXPECT_EQ(m.reg(kRcx), 0u);
  EXPECT_EQ(m.s.rip, kCode + 2);
  EXPECT_FALSE(m.flag(kFlagRf));
  EXPECT_EQ(m.Read(kData + 9999, 1), 0x77u);
  EXPECT_EQ(m.Read(kData + 10000, 1), 0u);
}

// Forward REP MOVS/STOS copy a page's worth of iterations at a time
// (BulkIterations): across page boundaries at different offsets, with the
// destination inside the source (the element-by-element pattern fill), and
// stopping at a page that faults with the registers at the first element
// not done.
TEST(InterpString, RepMovsAcrossPagesAndIntoItsOwnSource) {
  Machine m({0xF3, 0xA4, 0xF3, 0xA5});  // rep movsb; rep movsd
  for (int i = 0; i < 10000; ++i) m.Write(kData + 0x123 + i, 1, (i * 7) & 0xFF);
  m.reg(kRsi) = kData + 0x123;
  m.reg(kRdi) = kData + 0x8F01;
  m.reg(kRcx) = 10000;
  m.Step(3);  // 4096 iterations per step
  EXPECT_EQ(m.s.rip, kCode + 2);
  EXPECT_EQ(m.reg(kRcx), 0u);
  EXPECT_EQ(m.reg(kRsi), kData + 0x123 + 10000);
  EXPECT_EQ(m.reg(kRdi), kData + 0x8F01 + 10000);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(m.Read(kData + 0x8F01 + i, 1), uint64_t((i * 7) & 0xFF)) << i;
  EXPECT_EQ(m.Read(kData + 0x8F01 + 10000, 1), 0u);
  // Dwords to 4 bytes past their source: every one copies the first.
  m.Write(kData + 0x3000, 4, 0xA1B2C3D4);
  m.reg(kRsi) = kData + 0x3000;
  m.reg(kRdi) = kData + 0x3004;
  m.reg(kRcx) = 300;
  m.Step();
  for (int i = 0; i <= 300; ++i) ASSERT_EQ(m.Read(kData + 0x3000 + 4 * i, 4), 0xA1B2C3D4u) << i;
  EXPECT_EQ(m.Read(kData + 0x3000 + 4 * 301, 4), 0u);
}

TEST(InterpString, RepStosStopsAtAPageThatFaults) {
  Machine m({0xF3, 0xAB});  // rep stosd
  // 32-bit paging with 4 MiB pages (PSE): only the first 4 MiB present.
  constexpr uint64_t kDirectory = 0x5000;
  m.Write(kDirectory, 4, 0x83);  // present, writable, 4 MiB
  m.s.cr3 = kDirectory;
  m.s.cr4 |= kCr4Pse;
  m.s.cr0 |= kCr0Pg;
  m.reg(kRax) = 0x5A5A5A5A;
  m.reg(kRdi) = 0x400000 - 0x100;
  m.reg(kRcx) = 0x1000;
  EXPECT_EQ(m.Run(), kPF);
  EXPECT_EQ(m.s.cr2, 0x400000u);
  EXPECT_EQ(m.reg(kRdi), 0x400000u);
  EXPECT_EQ(m.reg(kRcx), 0x1000u - 0x40);
  for (uint64_t a = 0x400000 - 0x100; a < 0x400000; a += 4) ASSERT_EQ(m.Read(a, 4), 0x5A5A5A5Au) << a;
  EXPECT_EQ(m.Read(0x400000 - 0x104, 4), 0u);
}

TEST(InterpString, OutsAndInsUseThePortBus) {
  Machine m({0xF3, 0x6E, 0x6C});  // rep outsb; insb
  m.Load(kData, {'h', 'i'});
  m.reg(kRdx) = kTestPort;
  m.reg(kRsi) = kData;
  m.reg(kRcx) = 2;
  m.Step();
  ASSERT_EQ(m.device().writes.size(), 2u);
  EXPECT_EQ(m.device().writes[1].value, 'i');
  m.device().next_in = 0x42;
  m.reg(kRdi) = kData + 0x40;
  m.Step();
  EXPECT_EQ(m.Read(kData + 0x40, 1), 0x42u);
}

TEST(InterpControl, JumpsCallsAndReturns) {
  // 0: jmp +2 ; 2: (skipped 2 bytes) ; 4: call 0x10 ; 9: ret 8 target... see below
  std::vector<uint8_t> code(0x40, 0x90);
  auto put = [&](size_t at, std::vector<uint8_t> b) { std::copy(b.begin(), b.end(), code.begin() + at); };
  put(0x00, {0xEB, 0x02});                    // jmp 0x04
  put(0x04, {0xE8, 0x07, 0x00, 0x00, 0x00});  // call 0x10
  put(0x09, {0xFF, 0xD0});                    // call eax (-> 0x20)
  put(0x10, {0xC3});                          // ret
  put(0x20, {0xC2, 0x08, 0x00});              // ret 8
  Machine m(code);
  m.reg(kRax) = kCode + 0x20;
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 4);
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 0x10);
  EXPECT_EQ(m.Read(0x8000 - 4, 4), kCode + 9);
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 9);
  EXPECT_EQ(m.reg(kRsp), 0x8000u);
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 0x20);
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 0x0B);
  EXPECT_EQ(m.reg(kRsp), 0x8000u + 8);
}

TEST(InterpControl, ConditionalsAndLoops) {
  // 0: jz +2; 2: jecxz +2; 4: loop 4 (spins until ecx = 0); 6: jmp [0x20000]
  Machine m({0x74, 0x02, 0xE3, 0x02, 0xE2, 0xFE, 0xFF, 0x25, 0x00, 0x00, 0x02, 0x00});
  m.Write(kData, 4, kCode + 0x100);
  m.reg(kRcx) = 3;
  m.Step();  // ZF clear: not taken
  EXPECT_EQ(m.s.rip, kCode + 2);
  m.Step();  // ecx != 0: not taken
  EXPECT_EQ(m.s.rip, kCode + 4);
  m.Step(3);
  EXPECT_EQ(m.reg(kRcx), 0u);
  EXPECT_EQ(m.s.rip, kCode + 6);
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + 0x100);
}

TEST(InterpControl, SixteenBitIpWraps) {
  Machine m({}, Mode::kReal);
  m.Load(kCode + 0xFFFD, {0x90, 0xEB, 0x02});  // nop; jmp short +2 across 64 KiB
  m.s.rip = 0xFFFD;
  m.Step();
  EXPECT_EQ(m.s.rip, 0xFFFEu);
  m.Step();
  EXPECT_EQ(m.s.rip, 0x0002u);  // 0x10000 + 2 wrapped to 16 bits
  m.Load(kCode + 0xFFFF, {0x90});
  m.s.rip = 0xFFFF;
  m.Step();
  EXPECT_EQ(m.s.rip, 0u);
}

TEST(InterpIo, InAndOutWithDxAndImmediate) {
  // out dx, al; out dx, ax; out dx, eax; in eax, dx; in al, dx
  Machine m({0xEE, 0x66, 0xEF, 0xEF, 0xED, 0xEC});
  m.reg(kRdx) = kTestPort;
  m.reg(kRax) = 0x11223344;
  m.Step(3);
  ASSERT_EQ(m.device().writes.size(), 3u);
  EXPECT_EQ(m.device().writes[0].size, 1u);
  EXPECT_EQ(m.device().writes[0].value, 0x44u);
  EXPECT_EQ(m.device().writes[1].size, 2u);
  EXPECT_EQ(m.device().writes[1].value, 0x3344u);
  EXPECT_EQ(m.device().writes[2].value, 0x11223344u);
  m.device().next_in = 0xCAFEBABE;
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0xCAFEBABEu);
  m.device().next_in = 0x12;
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0xCAFEBA12u);
}

TEST(InterpIo, UserModeNeedsIoplOrBitmap) {
  Machine m({0xEE});
  m.s.seg[kSs].attrib |= 3 << Segment::kDplShift;  // CPL 3
  m.s.tr.limit = 0x67;                              // a TSS without an I/O bitmap
  EXPECT_THROW(CheckIoPermission(*m.cpu, kTestPort, 1), GuestFault);
  m.s.rflags |= kFlagIopl;
  EXPECT_NO_THROW(CheckIoPermission(*m.cpu, kTestPort, 1));
}

TEST(InterpFlags, PushfPopfLahfSahf) {
  // stc; pushfd; clc; popfd; lahf; cmc; sahf
  Machine m({0xF9, 0x9C, 0xF8, 0x9D, 0x9F, 0xF5, 0x9E});
  m.Step(4);
  EXPECT_TRUE(m.flag(kFlagCf));
  m.Step();
  EXPECT_EQ((m.reg(kRax) >> 8) & 0xFF, 0x03u);  // CF | reserved bit 1
  m.Step();
  EXPECT_FALSE(m.flag(kFlagCf));
  m.Step();
  EXPECT_TRUE(m.flag(kFlagCf));
}

TEST(InterpFlags, PopfKeepsIfAndIoplAtCpl3) {
  Machine m({0x9D});  // popfd
  m.s.seg[kSs].attrib |= 3 << Segment::kDplShift;
  m.Write(0x8000, 4, kFlagIf | kFlagIopl | kFlagCf | kFlagVm | kFlagRf);
  m.Step();
  EXPECT_TRUE(m.flag(kFlagCf));
  EXPECT_FALSE(m.flag(kFlagIf));
  EXPECT_FALSE(m.flag(kFlagIopl));
  EXPECT_FALSE(m.flag(kFlagVm));
  EXPECT_FALSE(m.flag(kFlagRf));
  EXPECT_EQ(m.reg(kRsp), 0x8004u);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
