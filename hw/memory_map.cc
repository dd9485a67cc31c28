#include "hw/memory_map.h"

#include <algorithm>
#include <cctype>

#include "hw/pc_layout.h"

namespace tandem::hw {

using namespace layout;

Result<MemoryMap> MemoryMap::Build(uint64_t ram_size, uint64_t rom_size) {
  if (ram_size < kMinRamSize) return Status::Error("memory size too small: at least 2 MiB is needed");
  if (ram_size > kMaxRamSize) return Status::Error("memory size too large: at most 1 TiB is supported");
  if (ram_size % 4096) return Status::Error("memory size must be a multiple of 4 KiB");
  if (rom_size && (rom_size < kBiosMinSize || rom_size > kBiosMaxSize || rom_size % kBiosMinSize)) {
    return Status::Error("BIOS image must be a multiple of 64 KiB between 64 KiB and 16 MiB");
  }
  MemoryMap map;
  map.rom_size_ = rom_size;
  map.ram_below_4g_ = std::min(ram_size, kMmioHoleStart);
  map.ram_above_4g_ = ram_size - map.ram_below_4g_;
  map.shadow_ = map.DefaultShadow();
  map.Rebuild();
  return map;
}

MemoryMap::ShadowModes MemoryMap::DefaultShadow() const {
  ShadowModes modes;
  uint64_t alias_start = kHighMemoryStart - std::min(rom_size_, kBiosAliasSize);
  for (int i = 0; i < kShadowSegments; ++i) {
    modes[i] = ShadowSegmentBase(i) >= alias_start ? ShadowMode::kOff : ShadowMode::kReadWrite;
  }
  return modes;
}

bool MemoryMap::SetShadow(const ShadowModes& modes) {
  if (modes == shadow_) return false;
  shadow_ = modes;
  Rebuild();
  return true;
}

void MemoryMap::Rebuild() {
  auto& r = regions_;
  r.clear();
  r.push_back({0, kLowRamEnd, RegionKind::kRam, 0, "low ram"});
  // The last 128 KiB of the BIOS (or all of a smaller one) also appear just
  // below 1 MiB, where a PAM segment is off; an off segment outside that
  // alias is PCI space. Adjacent segments of one kind become one region.
  uint64_t alias = std::min(rom_size_, kBiosAliasSize);
  uint64_t alias_start = kHighMemoryStart - alias;
  for (int i = 0; i < kShadowSegments; ++i) {
    uint64_t base = ShadowSegmentBase(i), size = ShadowSegmentSize(i);
    MemoryRegion seg;
    switch (shadow_[i]) {
      case ShadowMode::kOff:
        if (base < alias_start) continue;
        seg = {base, size, RegionKind::kRom, rom_size_ - (kHighMemoryStart - base), "bios alias"};
        break;
      case ShadowMode::kReadOnly:
        seg = {base, size, RegionKind::kRamReadOnly, base, "shadow ram (read-only)"};
        break;
      case ShadowMode::kReadWrite:
        seg = {base, size, RegionKind::kRam, base, "shadow ram"};
        break;
    }
    MemoryRegion& last = r.back();
    if (last.kind == seg.kind && last.end() == seg.gpa && last.host_offset + last.size == seg.host_offset &&
        last.gpa >= kShadowStart) {
      last.size += seg.size;
    } else {
      r.push_back(seg);
    }
  }
  if (ram_below_4g_ > kHighMemoryStart) {
    r.push_back({kHighMemoryStart, ram_below_4g_ - kHighMemoryStart, RegionKind::kRam, kHighMemoryStart,
                 "ram below 4g"});
  }
  if (rom_size_) r.push_back({k4GiB - rom_size_, rom_size_, RegionKind::kRom, 0, "bios"});
  if (ram_above_4g_) r.push_back({k4GiB, ram_above_4g_, RegionKind::kRam, ram_below_4g_, "ram above 4g"});
}

const MemoryRegion* MemoryMap::Find(uint64_t gpa) const {
  for (const auto& region : regions_) {
    if (gpa >= region.gpa && gpa < region.end()) return &region;
  }
  return nullptr;
}

uint64_t MemoryMap::RamOffset(uint64_t gpa) const {
  return gpa < k4GiB ? gpa : ram_below_4g_ + (gpa - k4GiB);
}

std::vector<E820Entry> MemoryMap::E820() const {
  std::vector<E820Entry> e;
  e.push_back({0, kLowRamEnd, E820Type::kRam});
  // The BIOS data area above 640 KiB up to 1 MiB is reserved, as on real PCs.
  e.push_back({0xF0000, 0x10000, E820Type::kReserved});
  if (ram_below_4g_ > kHighMemoryStart) {
    e.push_back({kHighMemoryStart, ram_below_4g_ - kHighMemoryStart, E820Type::kRam});
  }
  e.push_back({kIoApicBase, kIoApicSize, E820Type::kReserved});
  e.push_back({kLapicBase, kLapicSize, E820Type::kReserved});
  if (rom_size_) e.push_back({k4GiB - rom_size_, rom_size_, E820Type::kReserved});
  if (ram_above_4g_) e.push_back({k4GiB, ram_above_4g_, E820Type::kRam});
  return e;
}

Result<uint64_t> ParseSize(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return Status::Error("invalid size '" + text + "'");
  }
  size_t pos = 0;
  unsigned long long value;
  try {
    value = std::stoull(text, &pos, 0);
  } catch (...) {
    return Status::Error("invalid size '" + text + "'");
  }
  std::string suffix = text.substr(pos);
  int shift = 0;
  if (suffix == "K" || suffix == "k" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB") shift = 30;
  else if (suffix == "T" || suffix == "t" || suffix == "TiB") shift = 40;
  else if (!suffix.empty()) return Status::Error("invalid size suffix in '" + text + "'");
  if (shift && value > (~0ull >> shift)) return Status::Error("size '" + text + "' is too large");
  return static_cast<uint64_t>(value) << shift;
}

}  // namespace tandem::hw
