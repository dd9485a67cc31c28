#include "hw/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hw/pc_layout.h"

namespace tandem::hw {

Result<GuestMemory> GuestMemory::Create(const MemoryMap& map, const std::vector<uint8_t>& rom) {
  void* ram = mmap(nullptr, map.ram_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) {
    return Status::Error("cannot map " + std::to_string(map.ram_size() >> 20) +
                         " MiB of guest memory: " + std::strerror(errno));
  }
  // Transparent huge pages where the host allows them, as QEMU asks for its
  // RAM blocks: a guest touching fresh memory (zeroing pages, filling its
  // page cache) takes one host fault per 2 MiB instead of per 4 KiB. A host
  // without THP refuses the advice, which changes nothing.
  (void)madvise(ram, map.ram_size(), MADV_HUGEPAGE);
  uint8_t* rom_host = nullptr;
  if (map.rom_size()) {
    void* p = mmap(nullptr, map.rom_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      munmap(ram, map.ram_size());
      return Status::Error(std::string("cannot map the BIOS image: ") + std::strerror(errno));
    }
    rom_host = static_cast<uint8_t*>(p);
    std::memcpy(rom_host, rom.data(), std::min<uint64_t>(rom.size(), map.rom_size()));
  }
  return GuestMemory(map, static_cast<uint8_t*>(ram), rom_host);
}

GuestMemory::GuestMemory(MemoryMap map, uint8_t* ram, uint8_t* rom) : map_(std::move(map)), ram_(ram), rom_(rom) {
  uint64_t end = 0;
  for (const MemoryRegion& r : map_.regions()) end = std::max(end, r.end());
  code_pages_ = std::make_unique<CodePages>((end + 4095) >> 12);
}

GuestMemory::GuestMemory(GuestMemory&& other) noexcept
    : map_(std::move(other.map_)),
      code_pages_(std::move(other.code_pages_)),
      ram_(other.ram_),
      rom_(other.rom_),
      observers_(std::move(other.observers_)) {
  other.ram_ = nullptr;
  other.rom_ = nullptr;
}

GuestMemory::~GuestMemory() {
  if (ram_) munmap(ram_, map_.ram_size());
  if (rom_) munmap(rom_, map_.rom_size());
}

GuestMemory::Span GuestMemory::LookupRegion(uint64_t gpa) const {
  const MemoryRegion* region = map_.Find(gpa);
  if (!region) return {};
  uint64_t into = gpa - region->gpa;
  uint8_t* base = region->kind == RegionKind::kRom ? rom_ : ram_;
  return {base + region->host_offset + into, region->size - into, region->kind == RegionKind::kRam};
}

void GuestMemory::SetShadow(const MemoryMap::ShadowModes& modes) {
  if (!map_.SetShadow(modes)) return;
  for (MemoryMapObserver* observer : observers_) {
    observer->MemoryMapChanged(layout::kShadowStart, layout::kHighMemoryStart - layout::kShadowStart);
  }
}

void GuestMemory::AddObserver(MemoryMapObserver* observer) { observers_.push_back(observer); }

void GuestMemory::RemoveObserver(MemoryMapObserver* observer) {
  std::erase(observers_, observer);
}

bool GuestMemory::WritePhys(uint64_t gpa, const void* data, uint64_t size) {
  auto* src = static_cast<const uint8_t*>(data);
  while (size) {
    Span span = Lookup(gpa);
    if (!span.host) return false;
    uint64_t n = std::min(size, span.length);
    std::memcpy(span.host, src, n);
    code_pages_->NoteWriteRange(gpa, n);
    gpa += n;
    src += n;
    size -= n;
  }
  return true;
}

void GuestMemory::DiscardRam() {
  // A private anonymous mapping reads zeros after MADV_DONTNEED.
  if (ram_ && map_.ram_size()) madvise(ram_, map_.ram_size(), MADV_DONTNEED);
  for (const MemoryRegion& r : map_.regions()) {
    if (r.kind != RegionKind::kRom) code_pages_->NoteWriteRange(r.gpa, r.size);
  }
}

bool GuestMemory::ReadPhys(uint64_t gpa, void* data, uint64_t size) const {
  auto* dst = static_cast<uint8_t*>(data);
  while (size) {
    Span span = Lookup(gpa);
    if (!span.host) return false;
    uint64_t n = std::min(size, span.length);
    std::memcpy(dst, span.host, n);
    gpa += n;
    dst += n;
    size -= n;
  }
  return true;
}

uint8_t* GuestMemory::RamPointer(uint64_t gpa, uint64_t size) const {
  Span span = Lookup(gpa);
  return span.host && span.writable && span.length >= size ? span.host : nullptr;
}

}  // namespace tandem::hw
