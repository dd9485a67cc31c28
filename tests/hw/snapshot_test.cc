// Snapshots without an engine: the state visitor, and a board's devices,
// RAM, guest time and vCPU states saved to a file and loaded into another
// board built from the same configuration.
#include "hw/snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <fstream>

#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

enum class Colour : uint8_t { kRed, kGreen };

TEST(StateVisitorTest, RoundTripsEveryKindOfField) {
  bool flag = true;
  Colour colour = Colour::kGreen;
  uint32_t word = 0xDEADBEEF;
  std::array<uint16_t, 3> array = {1, 2, 3};
  std::deque<uint8_t> fifo = {7, 8};
  std::deque<std::vector<uint8_t>> frames = {{1, 2, 3}, {}};
  std::atomic<uint8_t> atomic{42};
  std::string text = "tandem";
  StateWriter w;
  w.Section("test");
  w(flag, colour, word, array, fifo, frames, atomic, text);

  bool flag2 = false;
  Colour colour2 = Colour::kRed;
  uint32_t word2 = 0;
  std::array<uint16_t, 3> array2{};
  std::deque<uint8_t> fifo2 = {9, 9, 9};
  std::deque<std::vector<uint8_t>> frames2;
  std::atomic<uint8_t> atomic2{0};
  std::string text2;
  StateReader r(w.bytes().data(), w.bytes().size());
  r.Section("test");
  r(flag2, colour2, word2, array2, fifo2, frames2, atomic2, text2);
  EXPECT_EQ(r.error(), "");
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(flag2);
  EXPECT_EQ(colour2, Colour::kGreen);
  EXPECT_EQ(word2, 0xDEADBEEFu);
  EXPECT_EQ(array2, array);
  EXPECT_EQ(fifo2, fifo);
  EXPECT_EQ(frames2, frames);
  EXPECT_EQ(atomic2.load(), 42);
  EXPECT_EQ(text2, "tandem");
}

TEST(StateVisitorTest, ShortInputAndAnotherSectionFail) {
  StateWriter w;
  w.Section("uart");
  uint16_t value = 5;
  w(value);
  StateReader other(w.bytes().data(), w.bytes().size());
  other.Section("pic");
  EXPECT_EQ(other.error(), "expected the state of pic, found uart");

  StateReader shorter(w.bytes().data(), w.bytes().size() - 1);
  shorter.Section("uart");
  uint16_t read = 9;
  shorter(read);
  EXPECT_EQ(shorter.error(), "the state ends early");
  EXPECT_EQ(read, 0);  // zeros, never bytes past the end
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/tandem-snapshot-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/snap";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::unique_ptr<Board> Make(ManualClock& clock, uint64_t ram = 32 << 20, int cpus = 2) {
    BoardConfig config;
    config.ram_size = ram;
    config.cpu_count = cpus;
    config.clock = &clock;
    config.virtio_rng = true;
    auto board = Board::Create(std::move(config));
    EXPECT_TRUE(board.ok()) << board.message();
    return std::move(board.value());
  }
  static uint8_t Cmos(Board& b, uint8_t index) {
    b.pio().Write(layout::kCmosPort, 1, index);
    return static_cast<uint8_t>(b.pio().Read(layout::kCmosPort + 1, 1));
  }
  std::string dir_, path_;
};

TEST_F(SnapshotTest, DevicesRamTimeAndCpusComeBack) {
  ManualClock clock1;
  clock1.Set(5'000'000'000);
  auto b1 = Make(clock1);
  b1->pio().Write(layout::kCom1Port + 7, 1, 0xA5);  // UART scratch register
  b1->pio().Write(0x21, 1, 0xB8);                   // master i8259 mask
  b1->pio().Write(layout::kCmosPort, 1, 0x40);
  b1->pio().Write(layout::kCmosPort + 1, 1, 0x77);
  b1->pio().Write(layout::kCmosPort, 1, 0x0F);      // the index register itself travels too
  const char text[] = "saved in RAM";
  ASSERT_TRUE(b1->memory().WritePhys(0x123456, text, sizeof text));
  x86::CpuState cpu0 = x86::Flat32State(0x100000);
  cpu0.gpr[x86::kRbx] = 0x1122334455667788;
  cpu0.fx.xmm[3][5] = 0x99;
  cpu0.interrupt_shadow = true;
  cpu0.pending_event = {true, true, x86::kGP, true, 0x18};
  x86::CpuState cpu1 = x86::WaitForSipiState();
  ASSERT_TRUE(SaveSnapshot(path_, *b1, {cpu0, cpu1}, "interp").ok());

  ManualClock clock2;  // a new process: its clock starts elsewhere
  auto b2 = Make(clock2);
  auto loaded = LoadSnapshot(path_, *b2);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(loaded->engine, "interp");
  EXPECT_EQ(clock2.NowNs(), 5'000'000'000u);
  EXPECT_EQ(b2->pio().Read(0x21, 1), 0xB8u);
  EXPECT_EQ(b2->pio().Read(layout::kCom1Port + 7, 1), 0xA5u);
  EXPECT_EQ(b2->pio().Read(layout::kCmosPort + 1, 1), Cmos(*b1, 0x0F));
  EXPECT_EQ(Cmos(*b2, 0x40), 0x77);
  char back[sizeof text] = {};
  ASSERT_TRUE(b2->memory().ReadPhys(0x123456, back, sizeof back));
  EXPECT_STREQ(back, text);
  ASSERT_EQ(loaded->cpus.size(), 2u);
  StateWriter want, got;
  VisitCpuState(want, cpu0);
  VisitCpuState(got, loaded->cpus[0]);
  EXPECT_EQ(got.bytes(), want.bytes());
  EXPECT_TRUE(loaded->cpus[1].wait_for_sipi);
}

TEST_F(SnapshotTest, PagesOfZerosAreNotStoredAndStaleRamIsCleared) {
  ManualClock clock;
  auto b1 = Make(clock, 256ull << 20, 1);
  ASSERT_TRUE(SaveSnapshot(path_, *b1, {x86::ResetState()}, "jit").ok());
  std::ifstream file(path_, std::ios::binary | std::ios::ate);
  EXPECT_LT(static_cast<uint64_t>(file.tellg()), 1u << 20) << "256 MiB of zeros should take no room";

  auto b2 = Make(clock, 256ull << 20, 1);
  const uint32_t junk = 0xFFFFFFFF;
  ASSERT_TRUE(b2->memory().WritePhys(0x200000, &junk, sizeof junk));
  ASSERT_TRUE(LoadSnapshot(path_, *b2).ok());
  uint32_t back = 1;
  ASSERT_TRUE(b2->memory().ReadPhys(0x200000, &back, sizeof back));
  EXPECT_EQ(back, 0u);  // what the loading board had before is gone
}

TEST_F(SnapshotTest, AnotherBoardOrADamagedFileIsRefused) {
  ManualClock clock;
  auto b1 = Make(clock);
  ASSERT_TRUE(SaveSnapshot(path_, *b1, {x86::ResetState(), x86::WaitForSipiState()}, "jit").ok());
  auto bigger = Make(clock, 64 << 20);
  auto refused = LoadSnapshot(path_, *bigger);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("taken with 32 MiB of RAM, this board has 64 MiB"), std::string::npos)
      << refused.message();
  auto fewer = Make(clock, 32 << 20, 1);
  EXPECT_FALSE(LoadSnapshot(path_, *fewer).ok());

  std::fstream file(path_, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(100);
  file.put('\x42');
  file.close();
  auto same = Make(clock);
  auto corrupted = LoadSnapshot(path_, *same);
  ASSERT_FALSE(corrupted.ok());
  EXPECT_NE(corrupted.message().find("corrupted"), std::string::npos) << corrupted.message();
}

TEST_F(SnapshotTest, AnUnwritablePathIsAnError) {
  ManualClock clock;
  auto b = Make(clock);
  Status s = SaveSnapshot(dir_ + "/no/such/dir/snap", *b, {x86::ResetState(), x86::WaitForSipiState()}, "jit");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tandem::hw
