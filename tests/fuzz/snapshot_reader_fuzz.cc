// libFuzzer harness for the snapshot reader (hw/snapshot.h): whatever the
// bytes, LoadSnapshotBytes() returns a value or an error, never crashes,
// reads out of bounds or leaves a device with an index past its tables.
// Most random files stop at the magic or the checksum, so the input is
// taken as edits to a valid snapshot of the same board, which is then given
// a correct checksum: the mutations reach the device records behind it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "hw/snapshot.h"

namespace {

using namespace tandem;

hw::ManualClock clock_for_board;

std::unique_ptr<hw::Board> MakeBoard() {
  hw::BoardConfig config;
  config.ram_size = 2 << 20;
  config.cpu_count = 2;
  config.clock = &clock_for_board;
  auto board = hw::Board::Create(std::move(config));
  if (!board.ok()) __builtin_trap();
  return std::move(board.value());
}

struct Fixture {
  std::unique_ptr<hw::Board> board = MakeBoard();
  std::vector<uint8_t> valid;
  Fixture() {
    // Some state worth damaging: a UART byte queued, PIT and PIC programmed.
    board->pio().Write(0x43, 1, 0x34);
    board->pio().Write(0x40, 1, 0x00);
    board->pio().Write(0x40, 1, 0x10);
    board->pio().Write(0x21, 1, 0xFE);
    const char text[] = "fuzz";
    board->memory().WritePhys(0x1000, text, sizeof text);
    auto bytes = hw::SnapshotBytes(*board, {x86::Flat32State(0x1000), x86::WaitForSipiState()}, "interp");
    if (!bytes.ok()) __builtin_trap();
    valid = std::move(*bytes);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  // Edits, 4 bytes each: a 24-bit offset into the snapshot and the byte to
  // put there. A left-over byte cuts the snapshot short.
  std::vector<uint8_t> bytes(fixture.valid.begin(), fixture.valid.end() - sizeof(uint64_t));
  for (size_t i = 0; i + 4 <= size; i += 4) {
    uint32_t offset = data[i] | data[i + 1] << 8 | data[i + 2] << 16;
    bytes[offset % bytes.size()] = data[i + 3];
  }
  if (size % 4 != 0) bytes.resize(bytes.size() - std::min<size_t>(bytes.size(), data[size - 1] * 997u));
  const uint64_t sum = hw::SnapshotChecksum(bytes.data(), bytes.size());
  const size_t end = bytes.size();
  bytes.resize(end + sizeof sum);
  std::memcpy(bytes.data() + end, &sum, sizeof sum);
  auto loaded = hw::LoadSnapshotBytes(bytes, "fuzz", *fixture.board);
  if (loaded.ok() && loaded->cpus.size() != 2) __builtin_trap();
  // Whatever was loaded, the devices must still answer.
  for (uint16_t port : {0x20, 0x21, 0x40, 0x41, 0x42, 0x60, 0x64, 0x70, 0x71, 0x3F8, 0x3FD, 0xCF8, 0xCFC}) {
    fixture.board->pio().Read(port, 1);
  }
  fixture.board->Poll();
  return 0;
}
