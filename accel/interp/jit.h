// The JIT (internal to accel/interp): translates runs of guest code in every
// mode but virtual-8086 (64-bit, compatibility, 32- and 16-bit protected,
// real) into host code with asmjit. Host and guest are both x86-64, so most
// integer instructions are re-encoded (Zydis encoder) with host registers
// that hold the guest's and replayed natively: results and the six
// arithmetic flags are exactly what a CPU gives. Memory operands go through
// the interpreter's TLB (an inline, flag-preserving lookup, shared by nearby
// accesses through the same base register); a miss, MMIO, a
// page crossing or any fault makes that one instruction run on the
// interpreter's handler, which keeps faults precise. Locked read-modify-writes
// replay with their LOCK prefix (and XCHG with memory locks by itself), so
// they are atomic against other vCPU threads; those left to the interpreter
// (bit strings, CMPXCHG8B/16B, slow paths) use its host atomics (atomic.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <exception>
#include <string>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "accel/interp/cpu.h"

namespace tandem::accel::interp {

class Jit {
 public:
  // The code cache holds at most about `max_cache_bytes` of translated code
  // and block records; when a new block would pass that, it is flushed whole.
  static constexpr size_t kDefaultCacheBytes = 64u << 20;
  explicit Jit(Cpu& cpu, size_t max_cache_bytes = kDefaultCacheBytes);
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  // Whether this host can run translated code: an x86-64 CPU with BMI2
  // (the TLB lookup uses SHRX to keep the guest's flags in the host's).
  static bool HostSupported(std::string* why);

  // Runs the translated block at CS:RIP when the CPU state allows it. Returns
  // the guest instructions it completed; 0 when the caller must interpret
  // the next instruction, unless a fault is pending. Chained blocks run on
  // without returning until about `budget` instructions have run.
  // A guest fault that an instruction in a block raised is left pending
  // (TakeFault), with RIP at the faulting instruction after the ones before
  // it completed, for the caller to deliver as it would a thrown one:
  // throwing it again out here would cost a second C++ unwind, several
  // microseconds, on every page fault the guest takes. One raised before
  // any block runs (fetching its first instruction) is thrown as GuestFault.
  uint64_t RunBlock(uint64_t budget);
  bool fault_pending() const { return pending_fault_.has_value(); }
  std::optional<GuestFault> TakeFault() { return std::exchange(pending_fault_, std::nullopt); }

  // A guest write hit bytes [offset, offset + bytes) of this physical page
  // (number): the blocks translated from any of them are dropped, and the
  // page's others stay (a kernel patching call sites, or writing data, next
  // to code it runs). Returns true when some were dropped, so a running block
  // stops after the write. Only the vCPU's own stores (own_store) count
  // towards the self-modifying-code backoff: a loader or test harness
  // rewriting code from outside is not code patched in a loop by the guest.
  bool InvalidatePage(uint64_t phys_page, bool own_store = true, unsigned offset = 0, unsigned bytes = 4096);
  // Linear-to-physical translations changed: the jump cache, which maps
  // linear RIPs to blocks, forgets the entries the change may have made
  // stale. A TLB flush that keeps global pages (a MOV CR3 with CR4.PGE) keeps
  // the entries translated through global pages, as the TLB keeps those
  // translations (SDM vol. 3A 4.10.4.1); INVLPG drops the entries of that
  // page, global or not, and every non-global one.
  void FlushJumpCache(bool include_global = true);
  void FlushJumpCachePage(uint64_t linear_page);

  struct Stats {
    uint64_t blocks_compiled = 0;
    uint64_t blocks_invalidated = 0;
    uint64_t guest_insns_translated = 0;
    uint64_t instructions_in_blocks = 0;
    uint64_t cache_flushes = 0;
    uint64_t jump_cache_flushes = 0;
    uint64_t cache_bytes = 0;  // live now
    uint64_t arena_bytes = 0;  // the code arena's extent (dropped blocks' room is reused within it)
    uint64_t dispatches = 0;   // blocks entered from RunBlock (not through a link or the jump cache)
    uint64_t interpreted = 0;  // instructions a block handed to the interpreter (Interpret)
  };
  const Stats& stats() const { return stats_; }

  struct Block;
  // An exit of a block towards a fixed RIP in its own page: a JMP whose
  // rel32 (at `jump`) points at the target block's chain entry once linked,
  // at `unlinked` (the exit's own way out to RunBlock) until then. Only this
  // Jit's thread runs its code (the arena is per vCPU), so a link is patched
  // in place as QEMU's goto_tb is, with no cross-modifying-code protocol.
  struct Link {
    uint8_t* jump;
    const void* unlinked;
    uint64_t target_rip;
    Block* owner;
    Block* target;
    void PointAt(const void* code) {
      const int32_t rel = static_cast<int32_t>(static_cast<const uint8_t*>(code) - (jump + 4));
      std::memcpy(jump, &rel, sizeof rel);
    }
  };
  // The code all blocks share: their frame's entry and exit, and the ways
  // out that need no block of their own (jit.cc).
  struct Runtime;
  const Runtime& runtime() const { return *runtime_; }
  // The slow path of translated code (jit.cc): interprets instruction
  // `index` of the block. Returns 0 to continue the block, 1 to leave it
  // before the instruction (a fault is pending), 2 to leave after it. With
  // `branch`, a taken branch alone gives 0 (the caller looks the target up).
  static uint64_t Interpret(Jit* jit, Block* block, uint64_t index, uint64_t branch);

  // The jump cache: exits whose target is not known at translation time
  // (RET, indirect JMP/CALL) or lies in another page look the target up here
  // by linear RIP and translation context (key, CPL, CS base) and jump
  // straight to its block. RunBlock fills it; an entry goes when its block is
  // dropped, and all of them when translations change. Per Jit, so per vCPU.
  // What translated code reads is 16 bytes a slot, apart from what only
  // RunBlock and the flushes read (JumpTarget), so that more of it stays in
  // the host's caches.
  struct JumpEntry {
    uint64_t tag = kNoJumpTag;  // JumpTag(rip, context)
    const void* code = nullptr;
  };
  struct JumpTarget {
    Block* block = nullptr;
    bool global = false;      // RIP's translation came from a global page
    uint8_t page_shift = 12;  // the size of the mapping it came from (12, 21, 22 or 30)
  };
  // RIP and context in one word: a RIP a block can start at is canonical (or
  // below 4 GiB), so its top 16 bits are all 0 or all 1, and a context below
  // kJumpContexts flips them to neither (nor to ~0, the empty tag).
  static constexpr uint64_t kNoJumpTag = ~0ull;
  static constexpr uint32_t kJumpContexts = 0x8000;
  static uint64_t JumpTag(uint64_t rip, uint32_t context) { return rip ^ (uint64_t{context} << 48); }
  // 32K slots (512 KiB that translated code reads, and as much beside it).
  // With 16K, 400 fork/execs entered the dispatcher 1.19M times (kernel
  // targets colliding in their slots: 460k); with 32K 0.82M, with 64K 0.70M.
  // A cache model of a 1 MiB L2 (cachegrind) has fewer misses with 32K
  // than with 16K, in L1 and L2, and 64K is only a little better than 32K
  // for another 0.6 MiB of peak RSS in the Linux boot (when entries were
  // 32 bytes, 64K slots ran 5% slower than 16K).
  static constexpr unsigned kJumpShift = 15;
  static constexpr unsigned kJumpSlots = 1u << kJumpShift;
  static unsigned JumpSlot(uint64_t rip) { return (rip ^ (rip >> kJumpShift)) & (kJumpSlots - 1); }

 private:
  Block* Find(uint64_t rip, uint64_t phys, bool user, uint64_t key, uint64_t cs_base);
  std::unique_ptr<Block> Compile(uint64_t rip, uint64_t phys, bool user, uint64_t key);
  void FreeDeadBlocks();
  void FlushCache();

  Cpu& cpu_;
  std::unique_ptr<Runtime> runtime_;
  // Blocks by the physical address of their first byte; several per address
  // when it is mapped at more than one linear address or run at both CPLs.
  std::unordered_map<uint64_t, std::vector<std::unique_ptr<Block>>> blocks_;
  std::unordered_map<uint64_t, std::vector<Block*>> blocks_by_page_;
  // Pages whose blocks keep being dropped by writes (code patched in a loop):
  // after kSmcDrops drops a page runs on the interpreter for kSmcRest
  // dispatches before it is translated again.
  struct SmcPage {
    uint32_t drops = 0;
    uint32_t rest = 0;
  };
  static constexpr uint32_t kSmcDrops = 16, kSmcRest = 1024;
  std::unordered_map<uint64_t, SmcPage> smc_pages_;
  static constexpr unsigned kLookupSlots = 1u << 16;
  // Not the jump cache's hash: RIPs that collide there (and so come here)
  // should not collide here too.
  static unsigned LookupSlot(uint64_t rip) { return static_cast<unsigned>((rip * 0x9E3779B97F4A7C15ull) >> 48); }
  std::vector<Block*> lookup_;  // direct-mapped by linear RIP
  std::vector<JumpEntry> jump_cache_;  // kJumpSlots, never reallocated (translated code holds its address)
  std::vector<JumpTarget> jump_targets_;  // kJumpSlots, beside jump_cache_
  void ClearJumpSlot(uint32_t slot) {
    jump_cache_[slot] = JumpEntry{};
    jump_targets_[slot] = JumpTarget{};
  }
  // The slots filled since the last flush that could drop them, so a flush
  // touches those alone (a MOV CR3 on every context switch would otherwise
  // clear the whole table): non-global entries, and global ones with a
  // filter of their 4 MiB regions that spares INVLPG of user pages the scan.
  std::vector<uint32_t> local_slots_, global_slots_;
  static constexpr unsigned kRegionFilterBits = 1024;
  std::vector<bool> global_regions_ = std::vector<bool>(kRegionFilterBits);
  bool global_huge_ = false;  // some global entry came from a 1 GiB page
  static unsigned RegionBit(uint64_t linear_page) { return (linear_page >> 10) % kRegionFilterBits; }
  void FillJumpEntry(uint64_t rip, uint64_t linear, Block* b);
  uint64_t Enter(Block* b, uint64_t rip, uint64_t budget);
  // Translation contexts (block key, CPL 3, CS base) numbered from 1.
  std::map<std::tuple<uint64_t, bool, uint64_t>, uint32_t> contexts_;
  std::vector<std::unique_ptr<Block>> dead_;  // freed outside translated code
  std::optional<GuestFault> pending_fault_;  // raised by a handler inside a block
  std::exception_ptr pending_exception_;     // anything else thrown there (RunBlock rethrows it)
  bool leave_block_ = false;
  Link* last_link_ = nullptr;  // the unlinked exit the last block left by
  bool jump_missed_ = false;   // the last block left because the jump cache missed (or its budget ran out)
  std::vector<uint64_t> compile_rips_;  // Compile's instruction RIPs, reused
  uint64_t extra_retired_ = 0;  // REP iterations beyond the first, in Interpret
  Stats stats_;
  size_t max_cache_bytes_;
};

}  // namespace tandem::accel::interp
