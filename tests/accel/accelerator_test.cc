#include "accel/accelerator.h"

#include <gtest/gtest.h>

namespace tandem::accel {
namespace {

Accelerator Fake(std::string name, bool available, std::string reason = "") {
  return Accelerator{name, "fake", [=] { return Availability{available, reason}; },
                     [](hw::Board&) -> Result<std::unique_ptr<Machine>> { return Status::Error("fake"); }};
}

TEST(ChooseAccelerator, AutoPicksFirstAvailableAndRecordsWhy) {
  std::vector<Accelerator> list = {Fake("kvm", false, "/dev/kvm: No such file or directory"),
                                   Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "auto");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator->name, "interp");
  ASSERT_EQ(choice->fallbacks.size(), 1u);
  EXPECT_EQ(choice->fallbacks[0], "kvm: /dev/kvm: No such file or directory");
}

TEST(ChooseAccelerator, AutoPrefersKvmWhenAvailable) {
  std::vector<Accelerator> list = {Fake("kvm", true), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "auto");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator->name, "kvm");
  EXPECT_TRUE(choice->fallbacks.empty());
}

TEST(ChooseAccelerator, CarriesTheChosenOnesCaveat) {
  std::vector<Accelerator> list = {Fake("kvm", true, "host KVM is kvm_pvm"), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "auto");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator->name, "kvm");
  EXPECT_EQ(choice->caveat, "host KVM is kvm_pvm");
}

Accelerator Degraded(std::string name, std::string reason) {
  Accelerator a = Fake(name, true, reason);
  a.probe = [=] {
    Availability av{true, reason};
    av.degraded = true;
    return av;
  };
  return a;
}

TEST(ChooseAccelerator, AutoPassesOverADegradedOneWhenABetterOneWorks) {
  std::vector<Accelerator> list = {Degraded("kvm", "host KVM is kvm_pvm"), Fake("jit", true), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "auto");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator->name, "jit");
  ASSERT_EQ(choice->passed_over.size(), 1u);
  EXPECT_EQ(choice->passed_over[0], "kvm: host KVM is kvm_pvm");
}

TEST(ChooseAccelerator, DegradedOneIsUsedWhenNamedOrWhenNothingElseWorks) {
  std::vector<Accelerator> list = {Degraded("kvm", "host KVM is kvm_pvm"), Fake("interp", false, "no")};
  auto named = ChooseAccelerator(list, "kvm");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->accelerator->name, "kvm");
  auto automatic = ChooseAccelerator(list, "auto");
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic->accelerator->name, "kvm");
  EXPECT_EQ(automatic->caveat, "host KVM is kvm_pvm");
  EXPECT_TRUE(automatic->passed_over.empty());
}

TEST(ChooseAccelerator, ExplicitOrderIsHonoured) {
  std::vector<Accelerator> list = {Fake("kvm", true), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "interp:kvm");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->accelerator->name, "interp");
}

TEST(ChooseAccelerator, UnavailableOnlyChoiceFailsWithProbeReason) {
  std::vector<Accelerator> list = {Fake("kvm", false, "/dev/kvm: Permission denied"), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "kvm");
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.message().find("/dev/kvm: Permission denied"), std::string::npos);
}

TEST(ChooseAccelerator, UnknownNameFailsAndListsKnownOnes) {
  std::vector<Accelerator> list = {Fake("kvm", true), Fake("interp", true)};
  auto choice = ChooseAccelerator(list, "kvm:tcg");
  // kvm is available, so the unknown second name is never reached...
  ASSERT_TRUE(choice.ok());
  choice = ChooseAccelerator(list, "tcg");
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.message().find("unknown accelerator 'tcg'"), std::string::npos);
  EXPECT_NE(choice.message().find("kvm, interp"), std::string::npos);
}

TEST(AcceleratorList, HasKvmThenJitThenInterpAndInterpIsAlwaysAvailable) {
  auto list = AcceleratorList();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "kvm");
  EXPECT_EQ(list[1].name, "jit");
  EXPECT_EQ(list[2].name, "interp");
  EXPECT_TRUE(list[2].probe().available);
  for (const auto& accel : {list[0], list[1]}) {
    auto a = accel.probe();
    if (!a.available) {
      EXPECT_FALSE(a.reason.empty()) << accel.name;
    }
  }
}

}  // namespace
}  // namespace tandem::accel
