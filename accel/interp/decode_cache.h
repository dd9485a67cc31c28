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
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];  // the instruction bytes decoded
    uint64_t second_page_pa;   // physical page of the bytes past the first page
    // RunPlain's successor cache: the slot of this page that ran after this
    // one, at successor_offset (kNoSuccessor: none). Reset when the slots move.
    static constexpr uint16_t kNoSuccessor = 0xFFFF;
    Slot* successor = nullptr;
    uint16_t successor_offset = kNoSuccessor;
  };
  // One physical page holding cached code. A guest write to the page bumps
  // its generation; a slot from an older generation is used again only after
  // its bytes compare equal to memory, else it is decoded again.
  struct Page {
    std::array<uint16_t, 4096> index{};  // slot number + 1 per byte offset, 0 for none
    std::vector<Slot> slots;             // only grows: a running handler's insn stays put
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

}  // namespace tandem::accel::interp
