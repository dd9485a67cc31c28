#include "hw/loader/linux_boot.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tandem::hw {
namespace {

// A synthetic bzImage: 4 setup sectors plus the boot sector, then a small
// "protected-mode kernel" payload.
std::vector<uint8_t> FakeBzImage(uint16_t version = 0x20F, uint16_t xloadflags = 1) {
  std::vector<uint8_t> k(5 * 512 + 4096, 0);
  k[0x1F1] = 4;
  k[0x1FE] = 0x55;
  k[0x1FF] = 0xAA;
  k[0x201] = 0x6A;  // jump past the header
  std::memcpy(&k[0x202], "HdrS", 4);
  std::memcpy(&k[0x206], &version, 2);
  k[0x211] = 0x01;  // LOADED_HIGH
  uint32_t initrd_max = 0x7FFFFFFF, cmdline_size = 2048;
  std::memcpy(&k[0x22C], &initrd_max, 4);
  std::memcpy(&k[0x236], &xloadflags, 2);
  std::memcpy(&k[0x238], &cmdline_size, 4);
  k[5 * 512] = 0xF4;  // first byte of the payload
  return k;
}

GuestMemory Memory(uint64_t size) {
  auto map = MemoryMap::Build(size, 0);
  return std::move(GuestMemory::Create(*map, {}).value());
}

TEST(LinuxBoot, BuildsZeroPageAndEnters64BitMode) {
  GuestMemory mem = Memory(64ull << 20);
  std::vector<uint8_t> initrd(10000, 0xAB);
  auto info = LoadLinux(mem, FakeBzImage(), initrd, "console=ttyS0");
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_TRUE(info->entry_64bit);
  EXPECT_EQ(info->state.rip, 0x100200u);
  EXPECT_EQ(info->state.gpr[x86::kRsi], linux_boot::kZeroPageAddress);
  EXPECT_EQ(x86::ModeOf(info->state), x86::CpuMode::kLong64);
  EXPECT_EQ(info->state.seg[x86::kCs].selector, 0x10);
  EXPECT_EQ(info->state.seg[x86::kDs].selector, 0x18);

  uint8_t payload = 0;
  mem.ReadPhys(0x100000, &payload, 1);
  EXPECT_EQ(payload, 0xF4);
  uint8_t zp[4096];
  mem.ReadPhys(linux_boot::kZeroPageAddress, zp, sizeof zp);
  EXPECT_EQ(std::memcmp(zp + 0x202, "HdrS", 4), 0);
  EXPECT_EQ(zp[0x210], 0xFF);
  uint32_t cmd_ptr, ramdisk, ramdisk_size;
  std::memcpy(&cmd_ptr, zp + 0x228, 4);
  std::memcpy(&ramdisk, zp + 0x218, 4);
  std::memcpy(&ramdisk_size, zp + 0x21C, 4);
  EXPECT_EQ(ramdisk_size, initrd.size());
  EXPECT_EQ(ramdisk % 4096, 0u);
  EXPECT_GE(ramdisk + ramdisk_size, (64u << 20) - 4096);  // as high as possible
  EXPECT_LE(ramdisk + ramdisk_size, 64u << 20);
  char cmd[32] = {};
  mem.ReadPhys(cmd_ptr, cmd, 14);
  EXPECT_STREQ(cmd, "console=ttyS0");
  // e820: low RAM first, then RAM from 1 MiB to the end.
  ASSERT_GE(zp[0x1E8], 2);
  uint64_t addr, size;
  std::memcpy(&addr, zp + 0x2D0, 8);
  std::memcpy(&size, zp + 0x2D8, 8);
  EXPECT_EQ(addr, 0u);
  EXPECT_EQ(size, 0xA0000u);
  // The identity map covers the kernel: PML4[0] -> PDPT, PD[0] a 2 MiB page at 0.
  uint64_t pml4e, pde;
  mem.ReadPhys(linux_boot::kPml4Address, &pml4e, 8);
  mem.ReadPhys(linux_boot::kPml4Address + 0x2000, &pde, 8);
  EXPECT_EQ(pml4e & ~0xFFFull, linux_boot::kPml4Address + 0x1000);
  EXPECT_EQ(pde, 0x83u);
}

TEST(LinuxBoot, OlderKernelsWithout64BitEntryStartIn32BitMode) {
  GuestMemory mem = Memory(32ull << 20);
  auto info = LoadLinux(mem, FakeBzImage(0x20A, 0), {}, "");
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_FALSE(info->entry_64bit);
  EXPECT_EQ(info->state.rip, 0x100000u);
  EXPECT_EQ(x86::ModeOf(info->state), x86::CpuMode::kProtected32);
}

TEST(LinuxBoot, RejectsBadImages) {
  GuestMemory mem = Memory(32ull << 20);
  EXPECT_FALSE(LoadLinux(mem, std::vector<uint8_t>(100, 0), {}, "").ok());
  auto old = LoadLinux(mem, FakeBzImage(0x204), {}, "");
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.message().find("too old"), std::string::npos);
  auto long_cmd = LoadLinux(mem, FakeBzImage(), {}, std::string(4000, 'x'));
  ASSERT_FALSE(long_cmd.ok());
  EXPECT_NE(long_cmd.message().find("command line too long"), std::string::npos);
  auto big_initrd = LoadLinux(mem, FakeBzImage(), std::vector<uint8_t>(40u << 20), "");
  ASSERT_FALSE(big_initrd.ok());
  EXPECT_NE(big_initrd.message().find("initrd"), std::string::npos);

  // syssize promises more than the file holds: cut short.
  auto cut = FakeBzImage();
  const uint32_t paragraphs = 4096 / 16 + 1;
  std::memcpy(&cut[0x1F4], &paragraphs, 4);
  auto truncated = LoadLinux(mem, cut, {}, "");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.message().find("truncated: its header promises 4112 bytes"), std::string::npos)
      << truncated.message();

  // Debian's kernel runs at 16 MiB and needs about 40 MiB from there.
  auto big = FakeBzImage();
  const uint64_t pref = 16 << 20;
  const uint32_t init_size = 40 << 20;
  std::memcpy(&big[0x258], &pref, 8);
  std::memcpy(&big[0x260], &init_size, 4);
  auto too_small = LoadLinux(mem, big, {}, "");
  ASSERT_FALSE(too_small.ok());
  EXPECT_NE(too_small.message().find("needs 56 MiB of RAM to decompress itself"), std::string::npos)
      << too_small.message();
  GuestMemory enough = Memory(64ull << 20);
  EXPECT_TRUE(LoadLinux(enough, big, {}, "").ok());
}

}  // namespace
}  // namespace tandem::hw
