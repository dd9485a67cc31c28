// Multiboot v1 loading (Multiboot Specification 0.6.96, sections 3.1-3.3),
// with GRUB 2's choices where the spec leaves room: the a.out kludge wins
// over ELF when flag bit 16 is set, PT_LOAD segments go to p_paddr, and an
// entry point inside a segment's virtual range is translated to physical.
#include "hw/loader/multiboot.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "hw/pc_layout.h"

namespace tandem::hw {

namespace {

constexpr size_t kHeaderSearchBytes = 8192;
// Required flags (bits 0-15) this loader honours: page alignment (there are
// no modules, so it holds trivially) and memory information.
constexpr uint32_t kSupportedRequiredFlags = kMultibootPageAlign | kMultibootMemoryInfo;
constexpr uint32_t kInfoSize = 128;  // 0.6.96 layout (88 bytes) plus GRUB's framebuffer fields
constexpr uint32_t kMmapEntrySize = 24;

// ELF32 (System V ABI, i386 supplement).
constexpr uint8_t kElfClass32 = 1, kElfClass64 = 2, kElfData2Lsb = 1;
constexpr uint16_t kElfTypeExec = 2, kElfMachine386 = 3;
constexpr uint32_t kPtLoad = 1;

uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// One piece of the kernel to place in RAM: file bytes, then zeroes.
struct Segment {
  uint64_t paddr;
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t mem_size;
};

struct Header {
  size_t offset;  // of the magic in the image
  uint32_t flags;
  // a.out kludge fields (valid when flags has bit 16).
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

Result<Header> FindHeader(const std::vector<uint8_t>& image) {
  size_t limit = std::min(image.size(), kHeaderSearchBytes);
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    const uint8_t* p = image.data() + off;
    if (Le32(p) != kMultibootHeaderMagic) continue;
    uint32_t flags = Le32(p + 4);
    if (uint32_t(Le32(p) + flags + Le32(p + 8)) != 0) {
      return Status::Error("Multiboot header at offset " + Hex(off) + " has a bad checksum");
    }
    Header h{off, flags, 0, 0, 0, 0, 0};
    if (flags & kMultibootAoutKludge) {
      if (off + 32 > image.size()) return Status::Error("Multiboot header is truncated");
      h.header_addr = Le32(p + 12);
      h.load_addr = Le32(p + 16);
      h.load_end_addr = Le32(p + 20);
      h.bss_end_addr = Le32(p + 24);
      h.entry_addr = Le32(p + 28);
    }
    return h;
  }
  return Status::Error("no Multiboot header (magic 0x1BADB002) in the first 8 KiB");
}

// The a.out kludge (spec 3.1.3): the header says where the file goes.
Result<std::vector<Segment>> AoutSegments(const std::vector<uint8_t>& image, const Header& h,
                                          uint32_t* entry) {
  if (h.header_addr < h.load_addr) {
    return Status::Error("Multiboot header_addr lies below load_addr");
  }
  uint64_t delta = h.header_addr - h.load_addr;
  if (delta > h.offset) return Status::Error("Multiboot load_addr lies before the start of the file");
  uint64_t file_offset = h.offset - delta;
  uint64_t file_size = image.size() - file_offset;
  if (h.load_end_addr) {
    if (h.load_end_addr < h.load_addr) return Status::Error("Multiboot load_end_addr lies below load_addr");
    if (uint64_t(h.load_end_addr - h.load_addr) > file_size) {
      return Status::Error("Multiboot load_end_addr lies beyond the end of the file");
    }
    file_size = h.load_end_addr - h.load_addr;
  }
  uint64_t mem_size = file_size;
  if (h.bss_end_addr) {
    if (h.bss_end_addr < h.load_addr + file_size) {
      return Status::Error("Multiboot bss_end_addr lies below the loaded image");
    }
    mem_size = h.bss_end_addr - h.load_addr;
  }
  *entry = h.entry_addr;
  return std::vector<Segment>{{h.load_addr, file_offset, file_size, mem_size}};
}

Result<std::vector<Segment>> ElfSegments(const std::vector<uint8_t>& image, uint32_t* entry) {
  if (image.size() < 52 || std::memcmp(image.data(), "\x7F" "ELF", 4) != 0) {
    return Status::Error("not an ELF file and the Multiboot header has no a.out kludge (flag bit 16)");
  }
  const uint8_t* e = image.data();
  if (e[4] == kElfClass64) {
    return Status::Error("ELF64 kernels are not supported by Multiboot v1 (convert with objcopy -O elf32-i386)");
  }
  if (e[4] != kElfClass32 || e[5] != kElfData2Lsb) return Status::Error("not a little-endian ELF32 file");
  if (Le16(e + 16) != kElfTypeExec) return Status::Error("ELF file is not an executable (ET_EXEC)");
  if (Le16(e + 18) != kElfMachine386) return Status::Error("ELF file is not for i386 (e_machine 3)");
  uint32_t phoff = Le32(e + 28);
  uint16_t phentsize = Le16(e + 42), phnum = Le16(e + 44);
  if (phentsize < 32 || uint64_t(phoff) + uint64_t(phnum) * phentsize > image.size()) {
    return Status::Error("ELF program headers lie outside the file");
  }
  uint32_t e_entry = Le32(e + 24);
  *entry = e_entry;
  std::vector<Segment> segments;
  for (unsigned i = 0; i < phnum; ++i) {
    const uint8_t* ph = e + phoff + i * phentsize;
    if (Le32(ph) != kPtLoad) continue;
    uint32_t offset = Le32(ph + 4), vaddr = Le32(ph + 8), paddr = Le32(ph + 12);
    uint32_t filesz = Le32(ph + 16), memsz = Le32(ph + 20);
    if (uint64_t(offset) + filesz > image.size()) {
      return Status::Error("ELF segment " + std::to_string(i) + " lies beyond the end of the file");
    }
    if (filesz > memsz) return Status::Error("ELF segment " + std::to_string(i) + " has p_filesz > p_memsz");
    if (memsz == 0) continue;
    if (e_entry >= vaddr && uint64_t(e_entry) < uint64_t(vaddr) + memsz) *entry = e_entry - vaddr + paddr;
    segments.push_back({paddr, offset, filesz, memsz});
  }
  if (segments.empty()) return Status::Error("ELF file has no loadable segment");
  return segments;
}

// True when [gpa, gpa+size) is guest RAM all the way (not ROM, not a hole).
bool IsRam(const GuestMemory& memory, uint64_t gpa, uint64_t size) {
  while (size) {
    GuestMemory::Span span = memory.Lookup(gpa);
    if (!span.host || !span.writable) return false;
    uint64_t n = std::min(size, span.length);
    gpa += n;
    size -= n;
  }
  return true;
}

bool Overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a < b + b_size && b < a + a_size;
}

void Put32(std::vector<uint8_t>& buf, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) buf[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(std::vector<uint8_t>& buf, size_t at, uint64_t v) {
  Put32(buf, at, static_cast<uint32_t>(v));
  Put32(buf, at + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace

Result<MultibootBoot> LoadMultiboot(GuestMemory& memory, const std::vector<uint8_t>& image,
                                    const std::string& cmdline) {
  auto header = FindHeader(image);
  if (!header.ok()) return header.status();
  uint32_t required = header->flags & 0xFFFF;
  if (required & kMultibootVideoMode) {
    return Status::Error("Multiboot kernel requires video mode information (flag bit 2), which tandem does not provide");
  }
  if (required & ~kSupportedRequiredFlags) {
    return Status::Error("Multiboot kernel requires unsupported features (flags " +
                         Hex(required & ~kSupportedRequiredFlags) + ")");
  }

  uint32_t entry = 0;
  auto segments = (header->flags & kMultibootAoutKludge) ? AoutSegments(image, *header, &entry)
                                                          : ElfSegments(image, &entry);
  if (!segments.ok()) return segments.status();

  uint64_t kernel_end = 0;
  for (const Segment& s : *segments) {
    if (s.paddr + s.mem_size > layout::k4GiB || !IsRam(memory, s.paddr, s.mem_size)) {
      return Status::Error("kernel segment " + Hex(s.paddr) + "-" + Hex(s.paddr + s.mem_size) +
                           " lies outside guest RAM");
    }
    kernel_end = std::max(kernel_end, s.paddr + s.mem_size);
  }
  for (const Segment& s : *segments) {
    memory.WritePhys(s.paddr, image.data() + s.file_offset, s.file_size);
    std::vector<uint8_t> zeroes(s.mem_size - s.file_size);
    memory.WritePhys(s.paddr + s.file_size, zeroes.data(), zeroes.size());
  }

  // The information block: structure, memory map, command line, loader name.
  static const char kLoaderName[] = "tandem";
  std::vector<E820Entry> e820 = memory.map().E820();
  uint32_t mmap_offset = kInfoSize;
  uint32_t mmap_length = static_cast<uint32_t>(e820.size()) * kMmapEntrySize;
  uint32_t cmdline_offset = mmap_offset + mmap_length;
  uint32_t name_offset = cmdline_offset + static_cast<uint32_t>(cmdline.size()) + 1;
  uint32_t total = name_offset + sizeof kLoaderName;

  uint64_t base = kMultibootInfoAddress;
  auto fits = [&](uint64_t at) {
    if (!IsRam(memory, at, total) || at + total > layout::k4GiB) return false;
    for (const Segment& s : *segments) {
      if (Overlaps(at, total, s.paddr, s.mem_size)) return false;
    }
    return true;
  };
  if (!fits(base)) {
    base = (kernel_end + 0xFFF) & ~uint64_t{0xFFF};
    if (!fits(base)) return Status::Error("no room in guest RAM for the Multiboot information");
  }
  uint32_t info = static_cast<uint32_t>(base);

  // mem_lower: KiB of RAM from 0; mem_upper: KiB of RAM from 1 MiB up to the first hole.
  uint32_t mem_lower = 0, mem_upper = 0;
  for (const E820Entry& e : e820) {
    if (e.type != E820Type::kRam) continue;
    if (e.addr == 0) mem_lower = static_cast<uint32_t>(std::min<uint64_t>(e.size, layout::kLowRamEnd) / 1024);
    if (e.addr == layout::kHighMemoryStart) {
      mem_upper = static_cast<uint32_t>(std::min<uint64_t>(e.size / 1024, 0xFFFFFFFFu));
    }
  }

  std::vector<uint8_t> block(total, 0);
  Put32(block, 0, kMultibootInfoMemory | kMultibootInfoCmdline | kMultibootInfoMmap | kMultibootInfoLoaderName);
  Put32(block, 4, mem_lower);
  Put32(block, 8, mem_upper);
  Put32(block, 16, info + cmdline_offset);
  Put32(block, 44, mmap_length);
  Put32(block, 48, info + mmap_offset);
  Put32(block, 64, info + name_offset);
  for (size_t i = 0; i < e820.size(); ++i) {
    size_t at = mmap_offset + i * kMmapEntrySize;
    Put32(block, at, kMmapEntrySize - 4);  // size excludes the size field itself
    Put64(block, at + 4, e820[i].addr);
    Put64(block, at + 12, e820[i].size);
    Put32(block, at + 20, static_cast<uint32_t>(e820[i].type));
  }
  std::memcpy(block.data() + cmdline_offset, cmdline.c_str(), cmdline.size() + 1);
  std::memcpy(block.data() + name_offset, kLoaderName, sizeof kLoaderName);
  memory.WritePhys(info, block.data(), block.size());

  return MultibootBoot{entry, info};
}

}  // namespace tandem::hw
