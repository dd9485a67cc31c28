// libFuzzer harness for the device register interfaces: random sequences of
// port and MMIO reads and writes (through a CPU socket, as an engine makes
// them), guest RAM writes (so DMA-capable devices find rings to walk), time
// steps and polls against a whole board with two CPUs, virtio-rng and a
// virtio-blk disk. No sequence may crash a device or make it touch memory
// outside guest RAM (ASan watches the host side).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "hw/board.h"

namespace {

using namespace tandem;

struct Fixture {
  hw::ManualClock clock;
  std::unique_ptr<hw::Board> board;
  Fixture() {
    char path[] = "/tmp/tandem-fuzz-disk-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 1 << 20) != 0) __builtin_trap();
    close(fd);
    hw::BoardConfig config;
    config.ram_size = 4 << 20;
    config.cpu_count = 2;
    config.clock = &clock;
    config.drives.push_back({path, false, /*snapshot=*/true, false});  // writes stay in memory
    auto created = hw::Board::Create(std::move(config));
    unlink(path);  // the open image outlives its name
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.message().c_str());
      __builtin_trap();
    }
    board = std::move(*created);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  hw::Board& b = *f.board;
  b.Reset();
  // Operations of 8 bytes: kind, size, a 16-bit port or page offset, and a
  // 32-bit value.
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint8_t kind = data[i] % 8;
    const unsigned width = 1u << (data[i + 1] % 3);
    const uint16_t where = static_cast<uint16_t>(data[i + 2] | data[i + 3] << 8);
    uint32_t value;
    std::memcpy(&value, data + i + 4, 4);
    hw::CpuSocket& cpu = b.cpu(data[i + 1] >> 7);
    switch (kind) {
      case 0: cpu.PioRead(where, width); break;
      case 1: cpu.PioWrite(where, width, value); break;
      // MMIO: the local APIC page, the I/O APIC, and the PCI hole where BARs land.
      case 2: cpu.MmioRead(0xFEE00000 + (where & 0xFFC), width); break;
      case 3: cpu.MmioWrite(0xFEC00000 + (where & 0xFF), width, value); break;
      case 4: cpu.MmioWrite(0xFE000000 + (uint64_t{where} << 4), width, value); break;
      case 5: b.memory().WritePhys(uint64_t{where} << 6, &value, width); break;
      case 6: f.clock.Advance(value & 0xFFFFF); break;
      case 7: b.Poll(); break;
    }
  }
  b.Poll();
  return 0;
}
