// Guest RAM (one anonymous host mapping) and the BIOS ROM image, laid out by
// the MemoryMap. Both engines reach guest memory only through this class: KVM
// turns its regions into memory slots, the interpreter into TLB host pointers.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "hw/code_pages.h"
#include "hw/memory_map.h"
#include "hw/pc_layout.h"
#include "hw/status.h"

namespace tandem::hw {

// Told when the guest-physical map changes while the guest runs (PAM
// shadowing): whatever an engine derived from the old map for
// [gpa, gpa + size) (TLB host pointers, cached decodes, KVM memory slots) is
// stale. Called on the vCPU thread, inside the port write that caused it.
class MemoryMapObserver {
 public:
  virtual ~MemoryMapObserver() = default;
  virtual void MemoryMapChanged(uint64_t gpa, uint64_t size) = 0;
};

class GuestMemory {
 public:
  // Maps RAM (lazily committed) and copies the ROM image; fails with a
  // message when the host refuses the mapping.
  static Result<GuestMemory> Create(const MemoryMap& map, const std::vector<uint8_t>& rom);
  GuestMemory(GuestMemory&&) noexcept;
  GuestMemory& operator=(GuestMemory&&) = delete;
  GuestMemory(const GuestMemory&) = delete;
  ~GuestMemory();

  const MemoryMap& map() const { return map_; }
  uint8_t* ram() const { return ram_; }
  uint8_t* rom() const { return rom_; }

  // The host address of gpa with the bytes left in its region, for RAM and
  // ROM; nullptr for holes and MMIO. ROM is never writable by the guest.
  struct Span {
    uint8_t* host = nullptr;
    uint64_t length = 0;
    bool writable = false;
  };
  Span Lookup(uint64_t gpa) const {
    // RAM from 1 MiB up to the PCI hole, where nearly every access lands, is
    // at its own offset in the host mapping whatever PAM says: no search.
    if (gpa >= layout::kHighMemoryStart && gpa < map_.ram_below_4g()) [[likely]] {
      return {ram_ + gpa, map_.ram_below_4g() - gpa, true};
    }
    return LookupRegion(gpa);
  }

  // Copies into guest RAM/ROM as a loader or DMA does (ROM included), and
  // makes engines' cached code of the pages it hits stale; false when the
  // range is not fully backed by memory.
  bool WritePhys(uint64_t gpa, const void* data, uint64_t size);
  bool ReadPhys(uint64_t gpa, void* data, uint64_t size) const;
  // Switches the PAM segments of 0xC0000-0xFFFFF (MemoryMap::SetShadow) and
  // tells the observers when the map changed.
  void SetShadow(const MemoryMap::ShadowModes& modes);
  // Observers are not owned; each removes itself before it is destroyed.
  void AddObserver(MemoryMapObserver* observer);
  void RemoveObserver(MemoryMapObserver* observer);

  // Makes all of RAM read as zeros again and gives its host memory back
  // (a snapshot load then writes the pages it stored). Only with the world
  // paused; cached code is made stale.
  void DiscardRam();

  // Host pointer to a RAM range that must lie inside one region, else nullptr.
  // Writes through it bypass code_pages(): call code_pages().NoteWriteRange.
  uint8_t* RamPointer(uint64_t gpa, uint64_t size) const;

  // Pages holding code that engines cache, with their write generations.
  CodePages& code_pages() const { return *code_pages_; }

 private:
  GuestMemory(MemoryMap map, uint8_t* ram, uint8_t* rom);
  Span LookupRegion(uint64_t gpa) const;
  MemoryMap map_;
  std::unique_ptr<CodePages> code_pages_;
  uint8_t* ram_ = nullptr;
  uint8_t* rom_ = nullptr;
  std::vector<MemoryMapObserver*> observers_;
};

}  // namespace tandem::hw
