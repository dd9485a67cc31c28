#include "hw/loader/multiboot.h"

#include <gtest/gtest.h>

#include <cstring>

#include "hw/guest_memory.h"
#include "hw/memory_map.h"

namespace tandem::hw {
namespace {

void Put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void Put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

struct Phdr {
  uint32_t offset, vaddr, paddr, filesz, memsz;
};

// A minimal ELF32 i386 executable: header, program headers at 52, then the
// caller's bytes from file offset 0x100 (where the Multiboot header goes).
std::vector<uint8_t> MakeElf(uint32_t entry, const std::vector<Phdr>& phdrs, size_t size) {
  std::vector<uint8_t> b(size, 0);
  std::memcpy(b.data(), "\x7F" "ELF", 4);
  b[4] = 1;  // ELFCLASS32
  b[5] = 1;  // little endian
  b[6] = 1;  // EV_CURRENT
  Put16(b, 16, 2);  // ET_EXEC
  Put16(b, 18, 3);  // EM_386
  Put32(b, 20, 1);
  Put32(b, 24, entry);
  Put32(b, 28, 52);  // e_phoff
  Put16(b, 40, 52);  // e_ehsize
  Put16(b, 42, 32);  // e_phentsize
  Put16(b, 44, static_cast<uint16_t>(phdrs.size()));
  for (size_t i = 0; i < phdrs.size(); ++i) {
    size_t at = 52 + i * 32;
    Put32(b, at, 1);  // PT_LOAD
    Put32(b, at + 4, phdrs[i].offset);
    Put32(b, at + 8, phdrs[i].vaddr);
    Put32(b, at + 12, phdrs[i].paddr);
    Put32(b, at + 16, phdrs[i].filesz);
    Put32(b, at + 20, phdrs[i].memsz);
    Put32(b, at + 24, 5);
  }
  return b;
}

void PutHeader(std::vector<uint8_t>& b, size_t at, uint32_t flags) {
  Put32(b, at, kMultibootHeaderMagic);
  Put32(b, at + 4, flags);
  Put32(b, at + 8, 0u - (kMultibootHeaderMagic + flags));
}

GuestMemory MakeMemory(uint64_t ram = 128ull << 20) {
  auto map = MemoryMap::Build(ram, 0);
  EXPECT_TRUE(map.ok());
  auto memory = GuestMemory::Create(*map, {});
  EXPECT_TRUE(memory.ok());
  return std::move(*memory);
}

uint32_t Read32(const GuestMemory& m, uint64_t gpa) {
  uint32_t v = 0;
  EXPECT_TRUE(m.ReadPhys(gpa, &v, 4));
  return v;
}
uint64_t Read64(const GuestMemory& m, uint64_t gpa) {
  uint64_t v = 0;
  EXPECT_TRUE(m.ReadPhys(gpa, &v, 8));
  return v;
}
std::string ReadString(const GuestMemory& m, uint64_t gpa) {
  std::string s;
  char c;
  while (m.ReadPhys(gpa++, &c, 1) && c) s += c;
  return s;
}

// Text at 1 MiB (file 0x100..0x200), data with bss at 2 MiB (file 0x200..0x210, 0x1000 in memory).
std::vector<uint8_t> TwoSegmentKernel() {
  auto b = MakeElf(0x100010, {{0x100, 0x100000, 0x100000, 0x100, 0x100}, {0x200, 0x200000, 0x200000, 0x10, 0x1000}},
                   0x210);
  PutHeader(b, 0x100, 0);
  for (int i = 0; i < 0x10; ++i) b[0x200 + i] = static_cast<uint8_t>(0xA0 + i);
  return b;
}

TEST(Multiboot, LoadsElfSegmentsAndZeroesBss) {
  GuestMemory memory = MakeMemory();
  uint32_t junk = 0xDEADBEEF;
  ASSERT_TRUE(memory.WritePhys(0x200100, &junk, 4));  // must be cleared as bss
  auto image = TwoSegmentKernel();
  auto boot = LoadMultiboot(memory, image, "console=ttyS0");
  ASSERT_TRUE(boot.ok()) << boot.message();
  EXPECT_EQ(boot->entry, 0x100010u);
  EXPECT_EQ(Read32(memory, 0x100000), kMultibootHeaderMagic);
  EXPECT_EQ(Read32(memory, 0x200000), 0xA3A2A1A0u);
  EXPECT_EQ(Read32(memory, 0x20000C), 0xAFAEADACu);
  EXPECT_EQ(Read32(memory, 0x200010), 0u);
  EXPECT_EQ(Read32(memory, 0x200100), 0u);
  EXPECT_EQ(Read32(memory, 0x200FFC), 0u);
}

TEST(Multiboot, BuildsTheInformationStructure) {
  GuestMemory memory = MakeMemory();
  auto image = TwoSegmentKernel();
  auto boot = LoadMultiboot(memory, image, "console=ttyS0 quiet");
  ASSERT_TRUE(boot.ok()) << boot.message();
  uint32_t info = boot->info_address;
  EXPECT_EQ(info, kMultibootInfoAddress);
  uint32_t flags = Read32(memory, info);
  EXPECT_EQ(flags, kMultibootInfoMemory | kMultibootInfoCmdline | kMultibootInfoMmap | kMultibootInfoLoaderName);
  EXPECT_EQ(Read32(memory, info + 4), 640u);            // mem_lower, KiB
  EXPECT_EQ(Read32(memory, info + 8), 127u * 1024);     // mem_upper, KiB above 1 MiB
  EXPECT_EQ(ReadString(memory, Read32(memory, info + 16)), "console=ttyS0 quiet");
  EXPECT_EQ(ReadString(memory, Read32(memory, info + 64)), "tandem");
  EXPECT_EQ(Read32(memory, info + 20), 0u);  // no modules

  auto e820 = memory.map().E820();
  uint32_t mmap_length = Read32(memory, info + 44);
  uint32_t mmap_addr = Read32(memory, info + 48);
  ASSERT_EQ(mmap_length, e820.size() * 24);
  // Walk the map the way the spec says kernels do: by each entry's size field.
  size_t i = 0;
  for (uint32_t at = mmap_addr; at < mmap_addr + mmap_length; at += Read32(memory, at) + 4, ++i) {
    ASSERT_LT(i, e820.size());
    EXPECT_EQ(Read32(memory, at), 20u);
    EXPECT_EQ(Read64(memory, at + 4), e820[i].addr);
    EXPECT_EQ(Read64(memory, at + 12), e820[i].size);
    EXPECT_EQ(Read32(memory, at + 20), static_cast<uint32_t>(e820[i].type));
  }
  EXPECT_EQ(i, e820.size());
  // For 128 MiB: low RAM, the reserved BIOS area, RAM from 1 MiB.
  EXPECT_EQ(Read64(memory, mmap_addr + 4), 0u);
  EXPECT_EQ(Read64(memory, mmap_addr + 12), 0xA0000u);
  EXPECT_EQ(Read32(memory, mmap_addr + 20), 1u);
}

TEST(Multiboot, TranslatesAVirtualEntryPointToPhysical) {
  GuestMemory memory = MakeMemory();
  auto b = MakeElf(0xC0100020, {{0x100, 0xC0100000, 0x100000, 0x100, 0x100}}, 0x200);
  PutHeader(b, 0x100, 0);
  auto boot = LoadMultiboot(memory, b, "");
  ASSERT_TRUE(boot.ok()) << boot.message();
  EXPECT_EQ(boot->entry, 0x100020u);
  EXPECT_EQ(ReadString(memory, Read32(memory, boot->info_address + 16)), "");
}

TEST(Multiboot, InfoMovesAboveAKernelAtItsDefaultPlace) {
  GuestMemory memory = MakeMemory();
  auto b = MakeElf(0x8000, {{0x100, 0x8000, 0x8000, 0x100, 0x3000}}, 0x200);
  PutHeader(b, 0x100, 0);
  auto boot = LoadMultiboot(memory, b, "x");
  ASSERT_TRUE(boot.ok()) << boot.message();
  EXPECT_EQ(boot->info_address, 0xB000u);
  EXPECT_EQ(Read32(memory, 0x8000), kMultibootHeaderMagic);
}

TEST(Multiboot, LoadsAnAoutKludgeImage) {
  GuestMemory memory = MakeMemory();
  // A flat binary meant for 1 MiB with its header 16 bytes in, 0x40 bytes
  // of file, bss up to 0x100080, entry at 0x100020.
  std::vector<uint8_t> b(0x40, 0x90);
  uint32_t flags = kMultibootAoutKludge | kMultibootMemoryInfo | kMultibootPageAlign;
  PutHeader(b, 0x10, flags);
  Put32(b, 0x1C, 0x100010);  // header_addr
  Put32(b, 0x20, 0x100000);  // load_addr
  Put32(b, 0x24, 0x100040);  // load_end_addr
  Put32(b, 0x28, 0x100080);  // bss_end_addr
  Put32(b, 0x2C, 0x100020);  // entry_addr
  uint32_t junk = 0xFFFFFFFF;
  memory.WritePhys(0x100070, &junk, 4);
  auto boot = LoadMultiboot(memory, b, "");
  ASSERT_TRUE(boot.ok()) << boot.message();
  EXPECT_EQ(boot->entry, 0x100020u);
  EXPECT_EQ(Read32(memory, 0x100000), 0x90909090u);
  EXPECT_EQ(Read32(memory, 0x100010), kMultibootHeaderMagic);
  EXPECT_EQ(Read32(memory, 0x10003C), 0x90909090u);
  EXPECT_EQ(Read32(memory, 0x100070), 0u);
}

std::string LoadError(const std::vector<uint8_t>& image, uint64_t ram = 128ull << 20) {
  GuestMemory memory = MakeMemory(ram);
  auto boot = LoadMultiboot(memory, image, "");
  EXPECT_FALSE(boot.ok());
  return boot.ok() ? "" : boot.message();
}

TEST(Multiboot, RejectsAnImageWithoutHeader) {
  auto b = MakeElf(0x100000, {{0x100, 0x100000, 0x100000, 0x100, 0x100}}, 0x3000);
  EXPECT_NE(LoadError(b).find("no Multiboot header"), std::string::npos);
  // A header past the first 8 KiB does not count.
  PutHeader(b, 0x2000, 0);
  EXPECT_NE(LoadError(b).find("no Multiboot header"), std::string::npos);
}

TEST(Multiboot, RejectsABadChecksum) {
  auto b = TwoSegmentKernel();
  Put32(b, 0x108, 0);
  EXPECT_NE(LoadError(b).find("checksum"), std::string::npos);
}

TEST(Multiboot, RejectsElf64) {
  auto b = TwoSegmentKernel();
  b[4] = 2;  // ELFCLASS64
  EXPECT_NE(LoadError(b).find("ELF64"), std::string::npos);
}

TEST(Multiboot, RejectsSegmentsOutsideRam) {
  auto b = MakeElf(0x100000, {{0x100, 0x100000, 0x100000, 0x100, 0x100}, {0x100, 0xA0000, 0xA0000, 0x10, 0x10}}, 0x200);
  PutHeader(b, 0x100, 0);
  EXPECT_NE(LoadError(b).find("outside guest RAM"), std::string::npos);
  // Past the end of a 16 MiB guest.
  auto c = MakeElf(0x100000, {{0x100, 0xFF0000, 0xFF0000, 0x100, 0x20000}}, 0x200);
  PutHeader(c, 0x100, 0);
  EXPECT_NE(LoadError(c, 16ull << 20).find("outside guest RAM"), std::string::npos);
}

TEST(Multiboot, RejectsRequiredVideoModeAndUnknownRequiredFlags) {
  auto b = TwoSegmentKernel();
  PutHeader(b, 0x100, kMultibootVideoMode);
  EXPECT_NE(LoadError(b).find("video"), std::string::npos);
  PutHeader(b, 0x100, 1u << 5);
  EXPECT_NE(LoadError(b).find("unsupported"), std::string::npos);
  // Unknown optional flags (bits 16-31 other than the a.out kludge) are fine.
  PutHeader(b, 0x100, 1u << 20);
  GuestMemory memory = MakeMemory();
  EXPECT_TRUE(LoadMultiboot(memory, b, "").ok());
}

TEST(Multiboot, RejectsNonElfWithoutKludge) {
  std::vector<uint8_t> b(0x100, 0);
  PutHeader(b, 0x20, 0);
  EXPECT_NE(LoadError(b).find("not an ELF"), std::string::npos);
}

}  // namespace
}  // namespace tandem::hw
