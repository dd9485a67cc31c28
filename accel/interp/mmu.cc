// Linear -> physical translation for the interpreter: no paging, 32-bit
// paging (4 KiB / 4 MiB with PSE, PSE-36), PAE and 4-level paging (2 MiB and
// 1 GiB pages), U/S, R/W with CR0.WP, NX, accessed/dirty bits, #PF error
// codes (SDM vol. 3A ch. 4), a direct-mapped TLB with host pointers, and
// physical RAM/ROM/MMIO accesses.
//
// PAE (legacy) PDPTEs are read on every walk rather than cached at MOV CR3;
// a reserved bit in a PDPTE therefore gives #PF(RSVD) instead of #GP at the
// CR3 write.
//
// Several vCPU threads share guest RAM: accessed/dirty bits are set with a
// host compare-and-swap on the paging entry, and a walk whose entry another
// vCPU changed meanwhile starts over (as QEMU's walker does), so neither that
// vCPU's write is lost nor a bit set in an entry the walk no longer matches
// (a swapped-out PTE, say). RAM accesses of 1, 2, 4 or 8 bytes are one host
// load or store of that width, so an aligned guest access is never torn
// (SDM vol. 3A 9.1.1).
#include <cstring>

#include <algorithm>

#include "accel/interp/atomic.h"
#include "accel/interp/jit.h"
#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

constexpr uint64_t kPageMask = ~0xFFFull;
constexpr uint64_t kPteP = 1, kPteW = 2, kPteU = 4, kPteA = 0x20, kPteD = 0x40, kPtePs = 0x80, kPteG = 0x100;
constexpr uint64_t kPteNx = 1ull << 63;
constexpr int kMaxPhysAddr = 40;
// Address bits 12..MAXPHYADDR-1 of a paging entry.
constexpr uint64_t kAddrMask = ((1ull << kMaxPhysAddr) - 1) & kPageMask;
// Bits 51..MAXPHYADDR, reserved in PAE and 4-level entries.
constexpr uint64_t kHighRsvd = ((1ull << 52) - 1) & ~((1ull << kMaxPhysAddr) - 1);

constexpr uint32_t kPfP = 1, kPfW = 2, kPfU = 4, kPfRsvd = 8, kPfI = 16;

constexpr int PermBit(Access access, bool user) { return static_cast<int>(access) * 2 + (user ? 1 : 0); }

struct WalkResult {
  uint64_t phys_page;  // 4 KiB page
  uint8_t perms;
  bool global;
  uint8_t page_shift;
};

// One host load/store of the access's width (memcpy of a constant size
// compiles to one MOV). Other sizes are the pieces of an access split at a
// page boundary, which x86 does not promise to do atomically either.
inline uint64_t LoadHost(const uint8_t* p, unsigned size) {
  switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    case 8: { uint64_t v; std::memcpy(&v, p, 8); return v; }
    default: { uint64_t v = 0; std::memcpy(&v, p, size); return v; }
  }
}

inline void StoreHost(uint8_t* p, unsigned size, uint64_t value) {
  switch (size) {
    case 1: *p = static_cast<uint8_t>(value); return;
    case 2: { uint16_t v = static_cast<uint16_t>(value); std::memcpy(p, &v, 2); return; }
    case 4: { uint32_t v = static_cast<uint32_t>(value); std::memcpy(p, &v, 4); return; }
    case 8: std::memcpy(p, &value, 8); return;
    default: std::memcpy(p, &value, size); return;
  }
}

[[noreturn]] void PageFault(Cpu& cpu, uint64_t linear, uint32_t code) {
  cpu.s.cr2 = linear;
  Raise(kPF, code);
}

// Combined rights of a walk, turned into TLB permission bits.
uint8_t Perms(const CpuState& s, bool w, bool u, bool nx, bool dirty) {
  bool wp = s.cr0 & kCr0Wp;
  uint8_t p = 0;
  p |= 1 << PermBit(Access::kRead, false);
  if (u) p |= 1 << PermBit(Access::kRead, true);
  if (dirty && (w || !wp)) p |= 1 << PermBit(Access::kWrite, false);
  if (dirty && w && u) p |= 1 << PermBit(Access::kWrite, true);
  if (!nx) p |= 1 << PermBit(Access::kExecute, false);
  if (!nx && u) p |= 1 << PermBit(Access::kExecute, true);
  return p;
}

// Sets `bits` in the paging entry at pa (esize bytes) if it still holds
// `expected`: false when another vCPU changed it since the walk read it.
bool UpdateEntry(Cpu& cpu, uint64_t pa, unsigned esize, uint64_t expected, uint64_t bits) {
  hw::GuestMemory::Span span = cpu.board.memory().Lookup(pa);
  if (!span.host || !span.writable || span.length < esize) {
    cpu.WritePhys(pa, esize, expected | bits);  // tables in ROM or MMIO: no other writer to race
    return true;
  }
  const uint64_t page = pa & kPageMask;
  const bool code = cpu.IsCodePage(page);
  if (code) [[unlikely]] cpu.InvalidateCodePage(page);
  bool ok;
  if (esize == 8) {
    uint64_t old = expected;
    ok = __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(span.host), &old, expected | bits, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
  } else {
    uint32_t old = static_cast<uint32_t>(expected);
    ok = __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(span.host), &old,
                                     static_cast<uint32_t>(expected | bits), false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED);
  }
  if (code) [[unlikely]] cpu.NoteOwnCodeWrite(page);
  return ok;
}

// One walk; false when an accessed/dirty update found its entry changed by
// another vCPU (the caller walks again).
bool WalkOnce(Cpu& cpu, uint64_t linear, Access access, bool user, WalkResult* result) {
  CpuState& s = cpu.s;
  if (!(s.cr0 & kCr0Pg)) {
    *result = {linear & 0xFFFFFFFFull & kPageMask, 0x3F, false, 12};
    return true;
  }
  const bool write = access == Access::kWrite;
  const bool pae = s.cr4 & kCr4Pae;
  const bool nxe = pae && (s.msr.efer & kEferNxe);
  uint32_t code = (write ? kPfW : 0) | (user ? kPfU : 0) | (access == Access::kExecute && nxe ? kPfI : 0);

  // Entries used by the walk, for the accessed/dirty updates.
  uint64_t addr[4];
  uint64_t ent[4];
  unsigned esize = pae ? 8 : 4;
  int n = 0;
  bool w = true, u = true, nx = false;
  uint64_t phys_page = 0;
  int shift = 12;

  auto use = [&](uint64_t a, uint64_t e, uint64_t rsvd) {
    if (!(e & kPteP)) PageFault(cpu, linear, code);
    if (e & rsvd) PageFault(cpu, linear, code | kPfP | kPfRsvd);
    addr[n] = a;
    ent[n] = e;
    ++n;
    w = w && (e & kPteW);
    u = u && (e & kPteU);
    nx = nx || (nxe && (e & kPteNx));
  };
  const uint64_t nx_rsvd = nxe ? 0 : kPteNx;

  if (!pae) {
    uint64_t lin = linear & 0xFFFFFFFFull;
    uint64_t pde_a = (s.cr3 & 0xFFFFF000ull) + ((lin >> 22) & 0x3FF) * 4;
    uint64_t pde = cpu.ReadPhys(pde_a, 4);
    bool big = (pde & kPtePs) && (s.cr4 & kCr4Pse);
    use(pde_a, pde, big ? (1ull << 21) : 0);
    if (big) {
      phys_page = (pde & 0xFFC00000ull) | (((pde >> 13) & 0xFF) << 32) | (lin & 0x3FF000);
      shift = 22;
    } else {
      uint64_t pte_a = (pde & 0xFFFFF000ull) + ((lin >> 12) & 0x3FF) * 4;
      uint64_t pte = cpu.ReadPhys(pte_a, 4);
      use(pte_a, pte, 0);
      phys_page = pte & 0xFFFFF000ull;
    }
  } else {
    uint64_t table;
    int level;  // index of the next level: 3 = PDPT (bits 38:30)
    if (LongMode(s)) {
      uint64_t pml4_a = (s.cr3 & kAddrMask) + ((linear >> 39) & 0x1FF) * 8;
      uint64_t pml4e = cpu.ReadPhys(pml4_a, 8);
      use(pml4_a, pml4e, kHighRsvd | nx_rsvd | kPtePs);
      table = pml4e & kAddrMask;
      level = 3;
    } else {
      uint64_t pdpt_a = (s.cr3 & 0xFFFFFFE0ull) + ((linear >> 30) & 3) * 8;
      uint64_t pdpte = cpu.ReadPhys(pdpt_a, 8);
      if (!(pdpte & kPteP)) PageFault(cpu, linear, code);
      if (pdpte & (0x1E6 | ~((1ull << kMaxPhysAddr) - 1))) PageFault(cpu, linear, code | kPfP | kPfRsvd);
      // Legacy PDPTEs have no rights bits and no accessed flag to set.
      table = pdpte & kAddrMask;
      level = 2;
    }
    for (; level >= 1; --level) {
      int idx_shift = 12 + 9 * (level - 1);
      uint64_t a = table + ((linear >> idx_shift) & 0x1FF) * 8;
      uint64_t e = cpu.ReadPhys(a, 8);
      bool big = level >= 2 && (e & kPtePs);
      uint64_t rsvd = kHighRsvd | nx_rsvd;
      // Large-page address bits below the page size (except PAT, bit 12) are reserved.
      if (big) rsvd |= ((1ull << idx_shift) - 1) & ~0x1FFFull;
      use(a, e, rsvd);
      if (big || level == 1) {
        uint64_t page_base = e & kAddrMask & ~((1ull << idx_shift) - 1);
        phys_page = page_base | (linear & ((1ull << idx_shift) - 1) & kPageMask);
        shift = idx_shift;
        break;
      }
      table = e & kAddrMask;
    }
  }

  // Rights (SDM vol. 3A 4.6): supervisor reads always, writes need R/W when
  // CR0.WP; user accesses need U/S at every level; fetches need !XD.
  bool ok;
  switch (access) {
    case Access::kRead: ok = !user || u; break;
    case Access::kWrite: ok = user ? (u && w) : (w || !(s.cr0 & kCr0Wp)); break;
    case Access::kExecute: ok = !nx && (!user || u); break;
    default: ok = false;
  }
  if (!ok) PageFault(cpu, linear, code | kPfP);

  for (int i = 0; i < n; ++i) {
    uint64_t bits = kPteA;
    if (i == n - 1 && write) bits |= kPteD;
    if ((ent[i] & bits) != bits && !UpdateEntry(cpu, addr[i], esize, ent[i], bits)) return false;
  }
  uint64_t last = ent[n - 1];
  bool dirty = write || (last & kPteD);
  bool global = (s.cr4 & kCr4Pge) && (last & kPteG);
  *result = {phys_page, Perms(s, w, u, nx, dirty), global, static_cast<uint8_t>(shift)};
  return true;
}

WalkResult Walk(Cpu& cpu, uint64_t linear, Access access, bool user) {
  WalkResult r;
  while (!WalkOnce(cpu, linear, access, user, &r)) {
  }
  return r;
}

}  // namespace

// The JIT's slots mirror TLB slot i (system_state.h JitTlbEntry).
static void FillJitSlots(Cpu& cpu, unsigned i, const TlbEntry& e) {
  const bool code = e.host && cpu.IsCodePage(e.phys);
  for (unsigned kind = 0; kind < 4; ++kind) {
    const bool write = kind >= 2;
    JitTlbEntry& j = cpu.sys_.tlb.jit[kind][i];
    // Canonical pages only (bits 63..47 of the address equal), so that a
    // non-canonical address, which Cpu::DirectData does not check for,
    // matches none.
    const bool canonical = (((e.page << 12) + (1ull << 47)) >> 48) == 0;
    const bool allowed = e.host && canonical &&
                         (e.perms >> PermBit(write ? Access::kWrite : Access::kRead, kind & 1) & 1) &&
                         (!write || (e.ram && !code));
    j.Set(allowed ? e.page : JitTlbEntry::kNoPage);
    j.addend = allowed ? reinterpret_cast<uint64_t>(e.host) - (e.page << 12) : 0;
  }
}

static void ClearJitSlots(Cpu& cpu, unsigned i) {
  for (auto& kind : cpu.sys_.tlb.jit) kind[i].Set(JitTlbEntry::kNoPage);
}

// A page that now holds cached code must take the slow path for writes, so
// that they reach InvalidateCodePage.
void Cpu::ForgetJitWrites(uint64_t phys_page) {
  for (const uint32_t i : sys_.tlb.filled) {
    const TlbEntry& e = sys_.tlb.entries[i];
    if (e.page != TlbEntry::kInvalid && e.phys == phys_page) {
      sys_.tlb.jit[2][i].Set(JitTlbEntry::kNoPage);
      sys_.tlb.jit[3][i].Set(JitTlbEntry::kNoPage);
    }
  }
}

void Cpu::RestoreJitWrites(uint64_t phys_page) {
  for (const uint32_t i : sys_.tlb.filled) {
    const TlbEntry& e = sys_.tlb.entries[i];
    if (e.page != TlbEntry::kInvalid && e.phys == phys_page) FillJitSlots(*this, i, e);
  }
}

// Tlb::filled lists every valid slot, some twice (filled again after an
// INVLPG): rebuilt from a scan once it outgrows the table twice over. The
// slot being filled is not valid yet, so it is listed after the scan.
static void NoteFilled(Tlb& tlb, uint32_t slot) {
  if (tlb.filled.size() >= 2 * tlb.size()) [[unlikely]] {
    tlb.filled.clear();
    for (uint32_t i = 0; i < tlb.size(); ++i) {
      if (tlb.entries[i].page != TlbEntry::kInvalid) tlb.filled.push_back(i);
    }
  }
  tlb.filled.push_back(slot);
}

// A TLB miss: walks and refills the slot. Out of line, so that the hit path
// below stays small enough to inline into every caller.
[[gnu::noinline]] static const TlbEntry& LookupMiss(Cpu& cpu, uint64_t linear, Access access, bool user) {
  uint64_t page = linear >> 12;
  Tlb& tlb = cpu.sys_.tlb;
  const uint32_t slot = tlb.Slot(page);
  TlbEntry& e = tlb.entries[slot];
  WalkResult r = Walk(cpu, linear, access, user);
  r.phys_page &= cpu.sys_.a20_mask;
  if (e.page == TlbEntry::kInvalid) NoteFilled(tlb, slot);
  e.page = page;
  e.phys = r.phys_page;
  e.perms = r.perms;
  e.global = r.global;
  e.page_shift = r.page_shift;
  if (r.page_shift > 12) cpu.sys_.tlb.has_large = true;
  hw::GuestMemory::Span span = cpu.board.memory().Lookup(r.phys_page);
  bool whole = span.host && span.length >= 4096;
  e.host = whole ? span.host : nullptr;
  e.ram = whole && span.writable;
  FillJitSlots(cpu, slot, e);
  return e;
}

// The entry for linear that allows the access, walking on a miss.
[[gnu::always_inline]] static inline const TlbEntry& Lookup(Cpu& cpu, uint64_t linear, Access access, bool user) {
  uint64_t page = linear >> 12;
  const TlbEntry& e = cpu.sys_.tlb.entries[cpu.sys_.tlb.Slot(page)];
  if (e.page == page && (e.perms >> PermBit(access, user) & 1)) [[likely]] return e;
  return LookupMiss(cpu, linear, access, user);
}

uint64_t Cpu::Translate(uint64_t linear, Access access, bool user) {
  return Lookup(*this, linear, access, user).phys | (linear & 0xFFF);
}

// Only the valid slots are looked at (Tlb::filled): a CR3 load per context
// switch would otherwise scan all of them.
void Cpu::FlushTlb(bool include_global) {
  if (jit_) jit_->FlushJumpCache(include_global);
  Tlb& tlb = sys_.tlb;
  size_t kept = 0;
  for (const uint32_t i : tlb.filled) {
    TlbEntry& e = tlb.entries[i];
    if (e.page == TlbEntry::kInvalid) continue;
    if (include_global || !e.global) {
      e.page = TlbEntry::kInvalid;
      ClearJitSlots(*this, i);
    } else {
      tlb.filled[kept++] = i;
    }
  }
  tlb.filled.resize(kept);
  if (include_global) tlb.has_large = false;
}

void Cpu::SyncA20() {
  const uint64_t mask = board.chipset().a20_enabled() ? ~0ull : ~(1ull << 20);
  if (mask == sys_.a20_mask) return;
  sys_.a20_mask = mask;
  FlushTlb(/*include_global=*/true);
}

void Cpu::MemoryMapChanged(uint64_t gpa, uint64_t size) {
  if (kick.OnOwnerThread() || !kick.HasOwner()) return ApplyMapChange(gpa, size);
  std::lock_guard<std::mutex> hold(map_change_mutex_);
  map_change_lo_ = std::min(map_change_lo_, gpa);
  map_change_hi_ = std::max(map_change_hi_, gpa + size);
  map_change_pending_.store(true, std::memory_order_release);
}

void Cpu::TakeMapChange() {
  uint64_t lo, hi;
  {
    std::lock_guard<std::mutex> hold(map_change_mutex_);
    map_change_pending_.store(false, std::memory_order_relaxed);
    lo = map_change_lo_;
    hi = map_change_hi_;
    map_change_lo_ = ~0ull;
    map_change_hi_ = 0;
  }
  if (lo < hi) ApplyMapChange(lo, hi - lo);
}

void Cpu::ApplyMapChange(uint64_t gpa, uint64_t size) {
  FlushTlb(true);
  for (uint64_t pa = gpa & kPageMask; pa < gpa + size; pa += 4096) {
    if (IsCodePage(pa)) InvalidateCodePage(pa);
  }
}

void Cpu::InvalidatePage(uint64_t linear) {
  uint64_t page = linear >> 12;
  if (jit_) jit_->FlushJumpCachePage(page);
  const uint32_t slot = sys_.tlb.Slot(page);
  TlbEntry& e = sys_.tlb.entries[slot];
  if (e.page == page) {
    e.page = TlbEntry::kInvalid;
    ClearJitSlots(*this, slot);
  }
  if (!sys_.tlb.has_large) return;
  for (unsigned i = 0; i < sys_.tlb.size(); ++i) {
    TlbEntry& x = sys_.tlb.entries[i];
    if (x.page != TlbEntry::kInvalid && x.page_shift > 12 && ((x.page ^ page) >> (x.page_shift - 12)) == 0) {
      x.page = TlbEntry::kInvalid;
      ClearJitSlots(*this, i);
    }
  }
}

// ---- linear accesses ----

namespace {

uint64_t ReadFrom(Cpu& cpu, const TlbEntry& e, unsigned off, unsigned size) {
  if (e.host) return LoadHost(e.host + off, size);
  if (size == 1 || size == 2 || size == 4 || size == 8) return cpu.ReadPhys(e.phys | off, size);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= cpu.ReadPhys(e.phys | (off + i), 1) << (8 * i);
  return v;
}

void WriteTo(Cpu& cpu, const TlbEntry& e, unsigned off, unsigned size, uint64_t value) {
  if (e.host) {
    if (!e.ram) return;  // ROM
    if (cpu.IsCodePage(e.phys)) [[unlikely]] {
      cpu.InvalidateCodePage(e.phys, /*own_store=*/true, off, size);
      StoreHost(e.host + off, size, value);
      cpu.NoteOwnCodeWrite(e.phys);
      return;
    }
    StoreHost(e.host + off, size, value);
    return;
  }
  if (size == 1 || size == 2 || size == 4 || size == 8) return cpu.WritePhys(e.phys | off, size, value);
  for (unsigned i = 0; i < size; ++i) cpu.WritePhys(e.phys | (off + i), 1, (value >> (8 * i)) & 0xFF);
}

}  // namespace

uint64_t ReadLinearAs(Cpu& cpu, uint64_t linear, unsigned size, Access access, bool user) {
  unsigned off = linear & 0xFFF;
  if (off + size <= 4096) [[likely]] return ReadFrom(cpu, Lookup(cpu, linear, access, user), off, size);
  unsigned first = 4096 - off;
  uint64_t lo = ReadFrom(cpu, Lookup(cpu, linear, access, user), off, first);
  uint64_t hi = ReadFrom(cpu, Lookup(cpu, linear + first, access, user), 0, size - first);
  return lo | (hi << (8 * first));
}

void WriteLinearAs(Cpu& cpu, uint64_t linear, unsigned size, uint64_t value, bool user) {
  unsigned off = linear & 0xFFF;
  if (off + size <= 4096) [[likely]] {
    WriteTo(cpu, Lookup(cpu, linear, Access::kWrite, user), off, size, value);
    return;
  }
  // Both pages are translated before either is written, so a #PF on the
  // second leaves memory untouched. Copies survive a TLB slot collision.
  unsigned first = 4096 - off;
  TlbEntry a = Lookup(cpu, linear, Access::kWrite, user);
  TlbEntry b = Lookup(cpu, linear + first, Access::kWrite, user);
  WriteTo(cpu, a, off, first, value);
  WriteTo(cpu, b, 0, size - first, value >> (8 * first));
}

namespace {

// Alignment checking (SDM vol. 3A 6.15 "Interrupt 17", table 6-7): with
// CR0.AM and EFLAGS.AC, an explicit data access at CPL 3 of n bytes must be
// n-aligned (operands wider than 8 bytes arrive in pieces, each checked), or
// #AC(0). A page fault on the access takes priority (table 6-2), so its pages
// are translated first. The callers test a misaligned address and AC first:
// an aligned access pays one register test.
[[gnu::cold]] void CheckAlignment(Cpu& cpu, uint64_t linear, unsigned size, Access access) {
  if (!(cpu.s.cr0 & kCr0Am) || cpu.cpl() != 3 || access == Access::kExecute) return;
  const unsigned align = size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
  if (!(linear & (align - 1))) return;
  cpu.Translate(linear, access, true);
  cpu.Translate(linear + size - 1, access, true);
  Raise(kAC, 0);
}

}  // namespace

// ---- locked accesses (atomic.h) ----

LockedTarget BeginLocked(Cpu& cpu, int seg, uint64_t offset, unsigned size) {
  LockedTarget t;
  t.linear = cpu.Linearize(seg, offset, size, Access::kWrite);
  if ((t.linear & (size - 1)) && (cpu.s.rflags & kFlagAc)) [[unlikely]] {
    CheckAlignment(cpu, t.linear, size, Access::kWrite);
  }
  if (cpu.debug_.data_armed) [[unlikely]] CheckDataBreakpoints(cpu, t.linear, size, true);
  const unsigned off = t.linear & 0xFFF;
  if (off + size > 4096) return t;  // a split lock: the mutex path
  const TlbEntry& e = Lookup(cpu, t.linear, Access::kWrite, cpu.cpl() == 3);
  if (!e.host || !e.ram) return t;  // MMIO or ROM: the mutex path
  if (cpu.IsCodePage(e.phys)) [[unlikely]] {
    cpu.InvalidateCodePage(e.phys);
    t.code_phys = e.phys;
  }
  t.host = e.host + off;
  return t;
}

uint64_t LockedFallbackRead(Cpu& cpu, uint64_t linear, unsigned size) {
  return ReadLinearAs(cpu, linear, size, Access::kRead, cpu.cpl() == 3);
}

void LockedFallbackWrite(Cpu& cpu, uint64_t linear, unsigned size, uint64_t value) {
  WriteLinearAs(cpu, linear, size, value, cpu.cpl() == 3);
}

// Data breakpoints are matched before the access: a hit only counts once the
// instruction completes, and a faulting one drops it (debug_regs.cc).
uint64_t Cpu::ReadLinear(uint64_t linear, unsigned size, Access access) {
  if ((linear & (size - 1)) && (s.rflags & kFlagAc)) [[unlikely]] CheckAlignment(*this, linear, size, access);
  if (debug_.data_armed && access != Access::kExecute) [[unlikely]] CheckDataBreakpoints(*this, linear, size, false);
  return ReadLinearAs(*this, linear, size, access, cpl() == 3);
}

void Cpu::WriteLinear(uint64_t linear, unsigned size, uint64_t value) {
  if ((linear & (size - 1)) && (s.rflags & kFlagAc)) [[unlikely]] CheckAlignment(*this, linear, size, Access::kWrite);
  if (debug_.data_armed) [[unlikely]] CheckDataBreakpoints(*this, linear, size, true);
  WriteLinearAs(*this, linear, size, value, cpl() == 3);
}

uint64_t Cpu::ReadLinearSystem(uint64_t linear, unsigned size) {
  return ReadLinearAs(*this, linear, size, Access::kRead, false);
}

void Cpu::WriteLinearSystem(uint64_t linear, unsigned size, uint64_t value) {
  WriteLinearAs(*this, linear, size, value, false);
}

void Cpu::SetBitsLinearSystem(uint64_t linear, uint8_t bits) {
  const TlbEntry e = Lookup(*this, linear, Access::kWrite, false);  // (a copy: invalidation may reuse the slot)
  const unsigned off = linear & 0xFFF;
  if (!e.host || !e.ram) {  // ROM or MMIO: no other writer to race
    WriteTo(*this, e, off, 1, ReadFrom(*this, e, off, 1) | bits);
    return;
  }
  const bool code = IsCodePage(e.phys);
  if (code) [[unlikely]] InvalidateCodePage(e.phys, /*own_store=*/true, off, 1);
  __atomic_fetch_or(e.host + off, bits, __ATOMIC_SEQ_CST);
  if (code) [[unlikely]] NoteOwnCodeWrite(e.phys);
}

// ---- physical accesses ----

uint64_t Cpu::ReadPhys(uint64_t pa, unsigned size) {
  hw::GuestMemory::Span span = board.memory().Lookup(pa);
  if (span.host) {
    uint64_t v = 0;
    if (span.length >= size) return LoadHost(span.host, size);
    for (unsigned i = 0; i < size; ++i) v |= ReadPhys(pa + i, 1) << (8 * i);
    return v;
  }
  plain_break_ = true;
  return socket.MmioRead(pa, size);
}

void Cpu::WritePhys(uint64_t pa, unsigned size, uint64_t value) {
  hw::GuestMemory::Span span = board.memory().Lookup(pa);
  if (span.host) {
    if (span.length < size) {
      for (unsigned i = 0; i < size; ++i) WritePhys(pa + i, 1, (value >> (8 * i)) & 0xFF);
      return;
    }
    if (!span.writable) return;  // ROM
    const uint64_t first = pa & kPageMask, last = (pa + size - 1) & kPageMask;
    const bool code_first = IsCodePage(first), code_last = last != first && IsCodePage(last);
    if (code_first) InvalidateCodePage(first);
    if (code_last) InvalidateCodePage(last);
    StoreHost(span.host, size, value);
    if (code_first) NoteOwnCodeWrite(first);
    if (code_last) NoteOwnCodeWrite(last);
    return;
  }
  plain_break_ = true;
  socket.MmioWrite(pa, size, value);
}

}  // namespace tandem::accel::interp
