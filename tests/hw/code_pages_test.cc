// hw::CodePages: marks, write generations and epochs, and GuestMemory::WritePhys
// noting its writes to marked pages.
#include "hw/code_pages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/memory_map.h"

namespace tandem::hw {
namespace {

TEST(CodePages, OnlyWritesToMarkedPagesMoveGenerationsAndTheEpoch) {
  CodePages pages(1024);
  EXPECT_FALSE(pages.IsMarked(5));
  EXPECT_EQ(pages.NoteWrite(5), ~0ull);
  EXPECT_EQ(pages.generation(5), 0u);
  EXPECT_EQ(pages.write_epoch(), 0u);

  EXPECT_EQ(pages.Mark(5, 0), 0u);  // the mark epoch before
  EXPECT_EQ(pages.Mark(5, 0), ~0ull);  // already marked
  EXPECT_EQ(pages.mark_epoch(), 1u);
  EXPECT_TRUE(pages.IsMarked(5));
  EXPECT_EQ(pages.NoteWrite(5), 0u);  // the write epoch before
  EXPECT_EQ(pages.generation(5), 1u);
  EXPECT_EQ(pages.generation(6), 0u);
  EXPECT_EQ(pages.write_epoch(), 1u);

  EXPECT_EQ(pages.Mark(2000, 0), ~0ull);  // beyond the tracked range: never code
  EXPECT_FALSE(pages.IsMarked(2000));
  EXPECT_EQ(pages.generation(2000), 0u);
}

TEST(CodePages, NoteWriteRangeCoversEveryPageTouched) {
  CodePages pages(64);
  pages.Mark(1, 0);
  pages.Mark(2, 0);
  pages.Mark(3, 0);
  pages.NoteWriteRange(0x1FFF, 2);  // last byte of page 1, first of page 2
  EXPECT_EQ(pages.generation(1), 1u);
  EXPECT_EQ(pages.generation(2), 1u);
  EXPECT_EQ(pages.generation(3), 0u);
}

TEST(CodePages, GuestMemoryWritePhysNotesWritesToMarkedPages) {
  auto map = MemoryMap::Build(16ull << 20, 0);
  ASSERT_TRUE(map.ok());
  auto memory = GuestMemory::Create(*map, {});
  ASSERT_TRUE(memory.ok());
  CodePages& pages = memory->code_pages();
  pages.Mark(0x10, 0);
  uint32_t v = 0x90909090;
  ASSERT_TRUE(memory->WritePhys(0x10FFE, &v, 4));  // pages 0x10 and 0x11
  EXPECT_EQ(pages.generation(0x10), 1u);
  EXPECT_EQ(pages.generation(0x11), 0u);  // not marked
  ASSERT_TRUE(memory->WritePhys(0x20000, &v, 4));
  EXPECT_EQ(pages.write_epoch(), 1u);
}

TEST(CodePages, APageStaysMarkedUntilEveryOwnerLetsGo) {
  CodePages pages(64);
  const int a = pages.AddOwner(), b = pages.AddOwner();
  EXPECT_NE(a, b);
  EXPECT_EQ(pages.Mark(7, a), 0u);
  EXPECT_EQ(pages.Mark(7, b), ~0ull);  // marked already: no new epoch
  EXPECT_EQ(pages.mark_epoch(), 1u);
  EXPECT_FALSE(pages.Unmark(7, a));
  EXPECT_TRUE(pages.IsMarked(7));
  EXPECT_FALSE(pages.Unmark(7, a));  // a holds nothing: no change
  EXPECT_TRUE(pages.Unmark(7, b));
  EXPECT_FALSE(pages.IsMarked(7));
  EXPECT_EQ(pages.NoteWrite(7), ~0ull);  // writes to it are nobody's business now
  EXPECT_EQ(pages.Mark(7, a), 1u);       // marked again: the epoch moves on
}

TEST(CodePages, OwnersAreHandedOutOnceAndTheSharedOneNeverLetsGo) {
  CodePages pages(64);
  std::vector<int> owners;
  for (int i = 0; i < CodePages::kSharedOwner; ++i) owners.push_back(pages.AddOwner());
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ(std::unique(owners.begin(), owners.end()), owners.end());
  EXPECT_EQ(owners.back(), CodePages::kSharedOwner - 1);
  EXPECT_EQ(pages.AddOwner(), CodePages::kSharedOwner);  // all taken
  pages.Mark(3, CodePages::kSharedOwner);
  EXPECT_FALSE(pages.Unmark(3, CodePages::kSharedOwner));
  EXPECT_TRUE(pages.IsMarked(3));
  pages.RemoveOwner(owners[5]);
  EXPECT_EQ(pages.AddOwner(), owners[5]);
}

}  // namespace
}  // namespace tandem::hw
