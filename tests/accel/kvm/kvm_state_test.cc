// Translation between CpuState and KVM's register structures, and the CPUID
// masking; no /dev/kvm needed.
#include "accel/kvm/kvm_state.h"

#include <gtest/gtest.h>

#include "accel/kvm/kvm_cpuid.h"

namespace tandem::accel::kvm {
namespace {

using x86::Segment;

TEST(KvmStateTest, SegmentAttributesMapToKvmFields) {
  Segment code64{0x08, 0, 0xFFFFFFFF, 0xB | Segment::kS | Segment::kP | Segment::kL | Segment::kG};
  kvm_segment k = ToKvmSegment(code64);
  EXPECT_EQ(k.type, 0xB);
  EXPECT_EQ(k.s, 1);
  EXPECT_EQ(k.dpl, 0);
  EXPECT_EQ(k.present, 1);
  EXPECT_EQ(k.l, 1);
  EXPECT_EQ(k.db, 0);
  EXPECT_EQ(k.g, 1);
  EXPECT_EQ(k.unusable, 0);
  EXPECT_EQ(k.limit, 0xFFFFFFFFu);
  EXPECT_EQ(k.selector, 0x08);

  Segment user{0x23, 0x1000, 0xFFFFF, 0x3 | Segment::kS | (3u << Segment::kDplShift) | Segment::kP |
                                          Segment::kAvl | Segment::kDb};
  k = ToKvmSegment(user);
  EXPECT_EQ(k.dpl, 3);
  EXPECT_EQ(k.avl, 1);
  EXPECT_EQ(k.db, 1);
  EXPECT_EQ(k.base, 0x1000u);
}

TEST(KvmStateTest, SegmentsRoundTrip) {
  for (uint32_t attrib = 0; attrib < (1u << 17); attrib += 0x1F1) {
    uint32_t valid = attrib & 0x1F0FF;  // bits 8-11 are not attributes
    Segment s{0x1234, 0xFFFF800000001000ull, 0xABCDE, valid};
    Segment back = FromKvmSegment(ToKvmSegment(s));
    EXPECT_EQ(back.attrib, valid);
    EXPECT_EQ(back.base, s.base);
    EXPECT_EQ(back.limit, s.limit);
    EXPECT_EQ(back.selector, s.selector);
  }
}

TEST(KvmStateTest, RegistersAndSystemStateRoundTrip) {
  x86::CpuState s = x86::Flat32State(0x100000);
  for (int i = 0; i < 16; ++i) s.gpr[i] = 0x1111111111111111ull * (i + 1);
  s.rflags = 0x202;
  s.cr3 = 0x5000;
  s.cr8 = 3;
  s.msr.efer = x86::kEferLme | x86::kEferLma;
  s.tr = Segment{0x28, 0x7000, 0x67, 0xB | Segment::kP};
  s.idtr = {0x8000, 0xFFF};
  s.fx.fcw = 0x27F;
  s.fx.ftw = 0x81;
  s.fx.st[7][9] = 0x40;
  s.fx.xmm[15][0] = 0x99;
  s.dr[7] = 0x401;

  kvm_regs regs;
  kvm_sregs sregs;
  kvm_fpu fpu;
  kvm_debugregs dregs;
  ToKvmRegs(s, &regs);
  ToKvmSregs(s, &sregs);
  ToKvmFpu(s.fx, &fpu);
  ToKvmDebugRegs(s, &dregs);
  EXPECT_EQ(regs.rsp, s.gpr[x86::kRsp]);
  EXPECT_EQ(regs.r15, s.gpr[x86::kR15]);
  EXPECT_EQ(sregs.tr.selector, 0x28);
  EXPECT_EQ(sregs.apic_base, 0xFEE00900u);

  x86::CpuState r;
  FromKvmRegs(regs, &r);
  FromKvmSregs(sregs, &r);
  FromKvmFpu(fpu, &r.fx);
  FromKvmDebugRegs(dregs, &r);
  EXPECT_EQ(r.gpr, s.gpr);
  EXPECT_EQ(r.rip, s.rip);
  EXPECT_EQ(r.rflags, s.rflags);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.seg[i].attrib, s.seg[i].attrib);
  EXPECT_EQ(r.tr.base, 0x7000u);
  EXPECT_EQ(r.idtr.limit, 0xFFF);
  EXPECT_EQ(r.cr3, 0x5000u);
  EXPECT_EQ(r.cr8, 3u);
  EXPECT_EQ(r.msr.efer, s.msr.efer);
  EXPECT_EQ(r.fx.fcw, 0x27F);
  EXPECT_EQ(r.fx.ftw, 0x81);
  EXPECT_EQ(r.fx.st, s.fx.st);
  EXPECT_EQ(r.fx.xmm, s.fx.xmm);
  EXPECT_EQ(r.dr[7], 0x401u);
}

TEST(KvmStateTest, EveryCandidateMsrHasAField) {
  x86::CpuState s;
  for (uint32_t m : CandidateMsrs()) EXPECT_NE(MsrField(s, m), nullptr) << std::hex << m;
  EXPECT_EQ(MsrField(s, 0xC0000080), nullptr);  // EFER travels in kvm_sregs
  EXPECT_EQ(MsrField(s, 0x1B), nullptr);        // so does the APIC base
}

TEST(KvmCpuidTest, FeatureBitsAreMaskedAndReported) {
  using namespace x86::cpuid_bits;
  std::vector<x86::CpuidEntry> model = {
      {0, 0, false, 1, 0x68747541, 0x444D4163, 0x69746E65},
      {1, 0, false, 0x306A9, 0x10800, kEcxHypervisor | (1u << 0), kEdxFpu | kEdxSse2},
      {0x80000001, 0, false, 0, 0, kExtEcxLahf, kExtEdxLm},
      {0x80000002, 0, false, 0x646E6174, 0x36386D65, 0x3436782D, 0x55504320},
      {0x80000008, 0, false, 0x3028, 0, 0, 0},
  };
  std::vector<x86::CpuidEntry> host = {
      {0, 0, false, 0x10, 0x68747541, 0x444D4163, 0x69746E65},
      {1, 0, false, 0xA50F00, 0x800, 1u << 0, kEdxFpu},  // no SSE2, no hypervisor bit reported
      {0x80000002, 0, false, 0x20444D41, 0, 0, 0},
      {0x80000008, 0, false, 0x3024, 0, 0, 0},
  };
  MaskedCpuid m = MaskCpuid(model, host);
  ASSERT_EQ(m.entries.size(), model.size());
  EXPECT_EQ(m.entries[0].eax, 1u);             // identification passes through
  EXPECT_EQ(m.entries[1].eax, 0x306A9u);
  EXPECT_EQ(m.entries[1].ecx, kEcxHypervisor | 1u);  // hypervisor bit always allowed
  EXPECT_EQ(m.entries[1].edx, kEdxFpu);
  EXPECT_EQ(m.entries[2].ecx, 0u);             // leaf missing on the host: no features
  EXPECT_EQ(m.entries[2].edx, 0u);
  EXPECT_EQ(m.entries[3].eax, 0x646E6174u);    // brand string untouched
  EXPECT_EQ(m.entries[4].eax, 0x3024u);        // 36 physical bits, not 40
  ASSERT_EQ(m.missing.size(), 3u);
  EXPECT_EQ(m.missing[0], "leaf 0x1 EDX: 0x04000000");
  EXPECT_EQ(m.missing[1], "leaf 0x80000001 ECX: 0x00000001");
  EXPECT_EQ(m.missing[2], "leaf 0x80000001 EDX: 0x20000000");
}

// The x86-64-v2 bits of the default model: a host without SSE4.2 and POPCNT
// loses exactly those, and the loss is reported.
TEST(KvmCpuidTest, V2BitsTheHostLacksAreReported) {
  using namespace x86::cpuid_bits;
  auto model = x86::CpuidModel::Default().entries();
  auto host = model;
  for (auto& e : host) {
    if (e.function == 1) e.ecx &= ~(kEcxSse42 | kEcxPopcnt | kEcxHypervisor);
  }
  MaskedCpuid m = MaskCpuid(model, host);
  uint32_t ecx = 0;
  for (const auto& e : m.entries) {
    if (e.function == 1) ecx = e.ecx;
  }
  EXPECT_EQ(ecx, (x86::CpuidModel::Default().Query(1, 0).ecx & ~(kEcxSse42 | kEcxPopcnt)));
  ASSERT_EQ(m.missing.size(), 1u);
  EXPECT_EQ(m.missing[0], "leaf 0x1 ECX: 0x00900000");
}

TEST(KvmCpuidTest, HostCpuidCoversTheModelsLeaves) {
  auto model = x86::CpuidModel::Default().entries();
  auto host = HostCpuid(model);
  ASSERT_FALSE(host.empty());
  EXPECT_EQ(host[0].function, 0u);
  EXPECT_EQ(host[0].ebx, model[0].ebx);  // the model carries the host's vendor
}

}  // namespace
}  // namespace tandem::accel::kvm
