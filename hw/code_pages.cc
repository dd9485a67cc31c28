#include "hw/code_pages.h"

#include <sys/mman.h>

#include <cstdlib>

namespace tandem::hw {

namespace {
// Anonymous zero-filled memory the host commits only where it is touched:
// a 4 GiB physical space needs 4 MiB of generations, mostly never used.
void* MapZeroed(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) std::abort();  // a few MiB of address space: nothing to recover
  return p;
}
}  // namespace

CodePages::CodePages(uint64_t page_count) : page_count_(page_count) {
  bits_ = static_cast<uint64_t*>(MapZeroed(((page_count + 63) / 64 + 1) * 8));
  generations_ = static_cast<uint32_t*>(MapZeroed((page_count + 1) * 4));
}

CodePages::~CodePages() {
  munmap(bits_, ((page_count_ + 63) / 64 + 1) * 8);
  munmap(generations_, (page_count_ + 1) * 4);
}

uint64_t CodePages::Mark(uint64_t pn) {
  if (pn >= page_count_) return ~0ull;
  uint64_t bit = 1ull << (pn & 63);
  if (std::atomic_ref<uint64_t>(bits_[pn >> 6]).load(std::memory_order_relaxed) & bit) return ~0ull;
  if (std::atomic_ref<uint64_t>(bits_[pn >> 6]).fetch_or(bit, std::memory_order_acq_rel) & bit) return ~0ull;
  return mark_epoch_.fetch_add(1, std::memory_order_acq_rel);
}

void CodePages::NoteWriteRange(uint64_t gpa, uint64_t size) {
  if (!size) return;
  for (uint64_t pn = gpa >> 12, last = (gpa + size - 1) >> 12; pn <= last; ++pn) NoteWrite(pn);
}

}  // namespace tandem::hw
