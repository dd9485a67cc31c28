// Which guest-physical pages hold bytes that an engine keeps a derived copy
// of (decoded instructions, translated blocks), and a write generation per
// such page, so every writer that is not the caching vCPU itself (loaders,
// device DMA, other vCPUs) makes the copies stale: Blink's InvalidateSystem,
// QEMU's invalidate_and_set_dirty. KVM caches nothing and ignores it.
//
// Threading: every member may be used from any thread at once (atomics, no
// lock). A writer stores the bytes first and calls NoteWrite() after, so a
// reader that sees the new generation also sees the new bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tandem::hw {

class CodePages {
 public:
  // Tracks page numbers below page_count; pages above are never code.
  explicit CodePages(uint64_t page_count);
  ~CodePages();
  CodePages(const CodePages&) = delete;
  CodePages& operator=(const CodePages&) = delete;

  uint64_t page_count() const { return page_count_; }

  // Each cache (a vCPU's decodes and blocks) holds an owner bit, and a page
  // stays marked while any owner has code from it: a page that held code
  // once and data since (a freed process's text, a kernel's decompressor)
  // gets its fast writes back once every owner has let go. AddOwner gives a
  // free bit, or kSharedOwner when all are taken, which never lets go.
  static constexpr int kSharedOwner = 63;
  int AddOwner();
  void RemoveOwner(int owner);

  // The owner cached bytes of page pn. When the page was not marked yet (by
  // any owner), mark_epoch() moves on (vCPUs drop direct-write shortcuts to
  // the page) and this returns the mark epoch from before; else ~0.
  uint64_t Mark(uint64_t pn, int owner);
  // The owner holds nothing from page pn any more (its copies are dropped
  // or stale); true when the page is no longer marked at all.
  bool Unmark(uint64_t pn, int owner);
  bool IsMarked(uint64_t pn) const {
    return pn < page_count_ && std::atomic_ref<uint64_t>(owners_[pn]).load(std::memory_order_relaxed) != 0;
  }

  // After a write to page pn: if the page is marked, bumps its generation and
  // the write epoch. Returns the write epoch from before the bump (or ~0 when
  // the page is not marked), so a vCPU that wrote knows whether anybody else
  // wrote since it last looked.
  uint64_t NoteWrite(uint64_t pn) {
    if (!IsMarked(pn)) return ~0ull;
    std::atomic_ref<uint32_t>(generations_[pn]).fetch_add(1, std::memory_order_release);
    return write_epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  // NoteWrite for every page of [gpa, gpa + size).
  void NoteWriteRange(uint64_t gpa, uint64_t size);

  // The page's generation: changes after every noted write to it.
  uint32_t generation(uint64_t pn) const {
    return pn < page_count_ ? std::atomic_ref<uint32_t>(generations_[pn]).load(std::memory_order_acquire) : 0;
  }
  // Counts noted writes to marked pages / new marks, machine-wide: a vCPU
  // compares them with what it last saw to know when to look closer.
  uint64_t write_epoch() const { return write_epoch_.load(std::memory_order_acquire); }
  uint64_t mark_epoch() const { return mark_epoch_.load(std::memory_order_acquire); }

 private:
  uint64_t page_count_;
  uint64_t* owners_ = nullptr;       // an owner mask per page (lazily committed mapping)
  std::atomic<uint64_t> free_owners_{~0ull >> 1};  // kSharedOwner is never handed out as free
  uint32_t* generations_ = nullptr;  // one per page (lazily committed mapping)
  std::atomic<uint64_t> write_epoch_{0};
  std::atomic<uint64_t> mark_epoch_{0};
};

}  // namespace tandem::hw
