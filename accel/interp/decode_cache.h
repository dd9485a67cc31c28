// The decoded-instruction cache (internal to accel/interp): decoded forms
// keyed by the physical address of the first byte and the code mode, kept
// per 4 KiB physical page and dropped when the guest writes over them.
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "accel/interp/cpu.h"

namespace tandem::accel::interp {

// The decoder mode of the code CS:RIP runs in.
inline ZydisMachineMode CodeMode(const x86::CpuState& s) {
  const x86::Segment& cs = s.seg[x86::kCs];
  if (!(s.cr0 & x86::kCr0Pe)) return cs.db() ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_REAL_16;
  if (s.msr.efer & x86::kEferLma) {
    if (cs.l()) return ZYDIS_MACHINE_MODE_LONG_64;
    return cs.db() ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LONG_COMPAT_16;
  }
  if (s.rflags & x86::kFlagVm) return ZYDIS_MACHINE_MODE_REAL_16;
  return cs.db() ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16;
}

struct Cpu::DecodeCache {
  explicit DecodeCache(hw::Board& board);

  static constexpr uint64_t kNoSecondPage = ~0ull;
  static constexpr uint8_t kNotPlain = 0xFF;
  static constexpr unsigned kLeafShift = 9;  // 512 pages (2 MiB) per directory leaf

  struct Slot {
    DecodedInsn insn;
    uint32_t generation;       // the page generation the bytes were last checked in
    uint8_t mode;              // ZydisMachineMode the bytes were decoded in
    uint8_t plain_mode;        // mode when insn.plain and within one page, else kNotPlain (Cpu::RunPlain)
    // RunPlain's successor cache: the slot of this page that ran after this
    // one, at successor_offset (kNoSuccessor: none).
    static constexpr uint16_t kNoSuccessor = 0xFFFF;
    uint16_t successor_offset = kNoSuccessor;
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];  // the instruction bytes decoded
    uint64_t second_page_pa;   // physical page of the bytes past the first page
    Slot* successor = nullptr;
  };
  // One physical page holding cached code. A guest write to the page bumps
  // its generation; a slot from an older generation is used again only after
  // its bytes compare equal to memory, else it is decoded again.
  struct Page {
    // Slot number + 1 per byte offset, 0 for none. Until the page's first
    // slot it is kNoSlots, shared: the JIT takes a Page for every page it
    // translates (its blocks' Interpret looks here), and of the Linux boot's
    // 1,650 code pages a third never had an instruction interpreted, 8 KiB
    // each of zeros.
    static constexpr std::array<uint16_t, 4096> kNoSlots{};
    const uint16_t* index = kNoSlots.data();
    uint16_t& IndexEntry(unsigned offset) {
      if (!own_index) {
        own_index = std::make_unique<std::array<uint16_t, 4096>>();
        index = own_index->data();
      }
      return (*own_index)[offset];
    }
    std::unique_ptr<std::array<uint16_t, 4096>> own_index;
    // The slots, in chunks that never move (a running handler's insn and the
    // successor links stay put) and hold at most one chunk's spare room per
    // page, where a doubling vector held 40% more than the Linux boot used.
    static constexpr unsigned kChunkShift = 5;
    std::vector<std::unique_ptr<Slot[]>> chunks;
    uint16_t slot_count = 0;
    Slot& slot(uint16_t number) {
      return chunks[(number - 1) >> kChunkShift][(number - 1) & ((1u << kChunkShift) - 1)];
    }
    const Slot& slot(uint16_t number) const {
      return chunks[(number - 1) >> kChunkShift][(number - 1) & ((1u << kChunkShift) - 1)];
    }
    uint16_t AddSlot() {
      if ((slot_count >> kChunkShift) == chunks.size()) chunks.push_back(std::make_unique<Slot[]>(1u << kChunkShift));
      return ++slot_count;
    }
    uint32_t generation = 0;
    std::vector<uint64_t> spill_sources; // page numbers whose instructions continue here
    // The page's hw::CodePages generation as of the last write this vCPU
    // made or noticed; another writer's change makes SyncCodeWrites drop
    // the page's decodes and blocks.
    uint32_t shared_generation = 0;
    // retired_ when this vCPU last decoded or checked code of the page
    // (Cpu::InvalidateCodePage: a write long after it lets go of the mark).
    uint64_t validated_at = 0;
  };
  using Leaf = std::array<std::unique_ptr<Page>, 1u << kLeafShift>;

  Page* FindPage(uint64_t pa) const;
  Page* GetPage(uint64_t pa);

  HandlerTable table{};  // the final table: system handlers registered after core ones
  HandlerTable core{};   // the core handlers alone, for mnemonics shared with system forms
  std::array<ZydisDecoder, ZYDIS_MACHINE_MODE_MAX_VALUE + 1> decoders{};
  std::vector<std::unique_ptr<Leaf>> directory;
  hw::CodePages& shared;             // the machine-wide code-page marks and write generations
  std::vector<uint64_t> page_numbers;  // of every Page, for SyncCodeWrites' scan
  uint64_t last_page_number = ~0ull;  // the 1-entry "current code page" fast path
  Page* last_page = nullptr;
  // Mnemonics whose core (non-system) forms are plain (DecodedInsn::plain).
  std::array<bool, ZYDIS_MNEMONIC_MAX_VALUE + 1> plain{};
  std::array<bool, ZYDIS_MNEMONIC_MAX_VALUE + 1> logged_mnemonic{};
  std::vector<uint32_t> logged_bytes;
};

// The Linux boot caches about 330 thousand instructions: the size is watched.
static_assert(sizeof(Cpu::DecodeCache::Slot) <= 160);

}  // namespace tandem::accel::interp
