// State the interpreter's system side keeps beside x86::CpuState: the TLB
// (SDM vol. 3A 4.10), the TSC epoch and the keys of one-time logs. Owned by
// mmu.cc, segmentation.cc, interrupts.cc, ops_system.cc and ops_far.cc.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace tandem::accel::interp {

// One cached translation of a 4 KiB linear page. perms has bit
// (access * 2 + user) set when that access may use the entry without a walk;
// write bits are only set once the dirty flag is set in the paging entry.
struct TlbEntry {
  static constexpr uint64_t kInvalid = ~0ull;
  uint64_t page = kInvalid;  // linear address >> 12
  uint64_t phys = 0;         // physical address of the 4 KiB page
  uint8_t* host = nullptr;   // host address of the page for RAM/ROM, else nullptr (MMIO)
  uint8_t perms = 0;
  bool ram = false;          // host page is RAM (writes allowed); false for ROM
  bool global = false;
  uint8_t page_shift = 12;   // size of the mapping it came from: 12, 21, 22 or 30
};

// The JIT's view of one TLB slot for one kind of access: translated code
// checks the slot's page against the page number of the last byte it
// touches and adds `addend` to the linear address to get the host address.
// A slot holds a page only when that access may go straight to host memory:
// RAM or ROM for reads, RAM that holds no cached code for writes, and the
// rights allow it. The page number is stored inverted, so that translated
// code gets last page - slot page from one LEA (jit.cc EmitTlbLookup).
struct JitTlbEntry {
  static constexpr uint64_t kNoPage = ~0ull;  // above every 52-bit page number
  uint64_t inverted_page = ~kNoPage;
  uint64_t addend = 0;  // host address minus linear address
  bool Holds(uint64_t page) const { return ~inverted_page == page; }
  void Set(uint64_t page) { inverted_page = ~page; }
};

struct Tlb {
  // Direct-mapped by linear page: slot = page & slot_mask. The JIT's blocks
  // use all kEntries (their working sets miss 256 slots 16 times as often);
  // the interpreter alone uses kInterpEntries, which stay in the L1 cache
  // (it looks one up per instruction fetched: 9% faster boots than with 4096).
  static constexpr unsigned kJitIndexBits = 12;
  static constexpr unsigned kEntries = 1u << kJitIndexBits;
  static constexpr unsigned kInterpEntries = 256;
  uint32_t slot_mask = kInterpEntries - 1;
  uint32_t Slot(uint64_t page) const { return static_cast<uint32_t>(page) & slot_mask; }
  unsigned size() const { return slot_mask + 1; }
  std::array<TlbEntry, kEntries> entries{};
  bool has_large = false;  // some entry came from a large page (INVLPG scans)
  std::vector<uint32_t> filled;  // every valid slot, some twice (mmu.cc NoteFilled)
  // Indexed [access * 2 + user][slot], access 0 = read, 1 = write (jit.cc).
  std::array<std::array<JitTlbEntry, kEntries>, 4> jit{};
};

struct SystemState {
  Tlb tlb;
  // The TSC counts at 1 GHz from CpuState::tsc at tsc_epoch_ns (set lazily).
  uint64_t tsc_epoch_ns = 0;
  bool tsc_epoch_set = false;
  std::set<std::string> logged;  // one-time log keys
  // ~(1 << 20) while the board's A20 gate is off (Cpu::SyncA20), else all ones.
  uint64_t a20_mask = ~0ull;
};

}  // namespace tandem::accel::interp
