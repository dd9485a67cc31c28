#include "target-x86/cpu_state.h"

#include <gtest/gtest.h>

#include "target-x86/cpuid.h"

namespace tandem::x86 {
namespace {

TEST(ResetState, StartsAtTheResetVectorInRealMode) {
  CpuState s = ResetState();
  EXPECT_EQ(s.seg[kCs].selector, 0xF000);
  EXPECT_EQ(s.seg[kCs].base, 0xFFFF0000u);
  EXPECT_EQ(s.rip, 0xFFF0u);
  EXPECT_EQ(s.seg[kCs].base + s.rip, 0xFFFFFFF0u);
  EXPECT_EQ(s.cr0, 0x60000010u);
  EXPECT_EQ(s.rflags, 2u);
  EXPECT_EQ(ModeOf(s), CpuMode::kReal);
}

TEST(Flat32State, IsFlatProtectedModeWithoutPaging) {
  CpuState s = Flat32State(0x100000);
  EXPECT_EQ(ModeOf(s), CpuMode::kProtected32);
  EXPECT_EQ(s.rip, 0x100000u);
  EXPECT_EQ(s.seg[kDs].limit, 0xFFFFFFFFu);
  EXPECT_FALSE(s.cr0 & kCr0Pg);
}

TEST(ModeOf, LongModeNeedsLmaAndCsL) {
  CpuState s = Flat32State(0);
  s.msr.efer = kEferLme | kEferLma;
  EXPECT_EQ(ModeOf(s), CpuMode::kCompat32);
  s.seg[kCs].attrib = (s.seg[kCs].attrib & ~Segment::kDb) | Segment::kL;
  EXPECT_EQ(ModeOf(s), CpuMode::kLong64);
}

TEST(CpuidModel, AdvertisesLongModeAndHostVendor) {
  CpuidModel model = CpuidModel::Default();
  EXPECT_EQ(model.vendor().size(), 12u);
  auto ext = model.Query(0x80000001, 0);
  EXPECT_TRUE(ext.edx & cpuid_bits::kExtEdxLm);
  auto leaf1 = model.Query(1, 0);
  EXPECT_TRUE(leaf1.edx & cpuid_bits::kEdxSse2);
  EXPECT_EQ(model.Query(0x80000000, 0).eax, 0x80000008u);
  // Brand string spells "tandem".
  auto brand = model.Query(0x80000002, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&brand.eax), 4), "tand");
}

// x86-64-v2 (the psABI level): CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3, SSE4.1,
// SSE4.2, SSSE3 on top of the baseline; no MONITOR/MWAIT (not implemented).
TEST(CpuidModel, AdvertisesX8664V2) {
  using namespace cpuid_bits;
  CpuidModel model = CpuidModel::Default();
  const uint32_t ecx = model.Query(1, 0).ecx;
  for (uint32_t bit : {kEcxSse3, kEcxSsse3, kEcxCx16, kEcxSse41, kEcxSse42, kEcxPopcnt}) {
    EXPECT_TRUE(ecx & bit) << std::hex << bit;
  }
  EXPECT_FALSE(ecx & (1u << 3)) << "MONITOR";
  EXPECT_FALSE(ecx & (1u << 28)) << "AVX";
  EXPECT_TRUE(model.Query(0x80000001, 0).ecx & kExtEcxLahf);
  const uint32_t edx = model.Query(1, 0).edx;
  for (uint32_t bit : {kEdxCmov, kEdxCx8, kEdxFpu, kEdxFxsr, kEdxMmx, kEdxSse, kEdxSse2}) {
    EXPECT_TRUE(edx & bit) << std::hex << bit;
  }
}

TEST(CpuidModel, OutOfRangeLeavesFollowTheVendorRule) {
  CpuidModel model = CpuidModel::Default();
  auto r = model.Query(0x40, 0);
  if (model.vendor() == "GenuineIntel") {
    EXPECT_EQ(r.eax, model.Query(1, 0).eax);
  } else {
    EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u);
  }
}

}  // namespace
}  // namespace tandem::x86
