// hw::CodePages: marks, write generations and epochs, and GuestMemory::WritePhys
// noting its writes to marked pages.
#include "hw/code_pages.h"

#include <gtest/gtest.h>

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

  EXPECT_EQ(pages.Mark(5), 0u);  // the mark epoch before
  EXPECT_EQ(pages.Mark(5), ~0ull);  // already marked
  EXPECT_EQ(pages.mark_epoch(), 1u);
  EXPECT_TRUE(pages.IsMarked(5));
  EXPECT_EQ(pages.NoteWrite(5), 0u);  // the write epoch before
  EXPECT_EQ(pages.generation(5), 1u);
  EXPECT_EQ(pages.generation(6), 0u);
  EXPECT_EQ(pages.write_epoch(), 1u);

  EXPECT_EQ(pages.Mark(2000), ~0ull);  // beyond the tracked range: never code
  EXPECT_FALSE(pages.IsMarked(2000));
  EXPECT_EQ(pages.generation(2000), 0u);
}

TEST(CodePages, NoteWriteRangeCoversEveryPageTouched) {
  CodePages pages(64);
  pages.Mark(1);
  pages.Mark(2);
  pages.Mark(3);
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
  pages.Mark(0x10);
  uint32_t v = 0x90909090;
  ASSERT_TRUE(memory->WritePhys(0x10FFE, &v, 4));  // pages 0x10 and 0x11
  EXPECT_EQ(pages.generation(0x10), 1u);
  EXPECT_EQ(pages.generation(0x11), 0u);  // not marked
  ASSERT_TRUE(memory->WritePhys(0x20000, &v, 4));
  EXPECT_EQ(pages.write_epoch(), 1u);
}

}  // namespace
}  // namespace tandem::hw
