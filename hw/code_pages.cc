#include "hw/code_pages.h"

#include <sys/mman.h>

#include <cstdlib>

namespace tandem::hw {

namespace {
// Anonymous zero-filled memory the host commits only where it is touched:
// a 4 GiB physical space needs 4 MiB of generations and 8 MiB of owner
// masks, mostly never used.
void* MapZeroed(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) std::abort();  // a few MiB of address space: nothing to recover
  return p;
}
}  // namespace

CodePages::CodePages(uint64_t page_count) : page_count_(page_count) {
  owners_ = static_cast<uint64_t*>(MapZeroed((page_count + 1) * 8));
  generations_ = static_cast<uint32_t*>(MapZeroed((page_count + 1) * 4));
}

CodePages::~CodePages() {
  munmap(owners_, (page_count_ + 1) * 8);
  munmap(generations_, (page_count_ + 1) * 4);
}

int CodePages::AddOwner() {
  uint64_t free = free_owners_.load(std::memory_order_relaxed);
  while (free && !free_owners_.compare_exchange_weak(free, free & (free - 1), std::memory_order_acq_rel)) {
  }
  return free ? __builtin_ctzll(free) : kSharedOwner;
}

// The departing owner's marks stay (a later owner of the bit inherits them):
// a page marked too long only costs slow writes, one unmarked too early
// would cost stale code.
void CodePages::RemoveOwner(int owner) {
  if (owner != kSharedOwner) free_owners_.fetch_or(1ull << owner, std::memory_order_acq_rel);
}

uint64_t CodePages::Mark(uint64_t pn, int owner) {
  if (pn >= page_count_) return ~0ull;
  const uint64_t bit = 1ull << owner;
  std::atomic_ref<uint64_t> word(owners_[pn]);
  if (word.load(std::memory_order_relaxed) & bit) return ~0ull;
  if (word.fetch_or(bit, std::memory_order_acq_rel) != 0) return ~0ull;
  return mark_epoch_.fetch_add(1, std::memory_order_acq_rel);
}

bool CodePages::Unmark(uint64_t pn, int owner) {
  if (pn >= page_count_ || owner == kSharedOwner) return false;
  const uint64_t bit = 1ull << owner;
  std::atomic_ref<uint64_t> word(owners_[pn]);
  if (!(word.load(std::memory_order_relaxed) & bit)) return false;
  return (word.fetch_and(~bit, std::memory_order_acq_rel) & ~bit) == 0;
}

void CodePages::NoteWriteRange(uint64_t gpa, uint64_t size) {
  if (!size) return;
  for (uint64_t pn = gpa >> 12, last = (gpa + size - 1) >> 12; pn <= last; ++pn) NoteWrite(pn);
}

}  // namespace tandem::hw
