// QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device kvm-unit-tests
// drive: a scratch data port, a "flush page" port, a port per interrupt line
// that sets the line's level, and 64 KiB of device memory that is MMIO, not
// RAM, so that every access to it goes through an engine's MMIO path.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class PcTestdev {
 public:
  static constexpr unsigned kIrqLines = 24;  // the board's GSIs 0-23
  static constexpr unsigned kDataPortSize = 4;
  static constexpr unsigned kFlushPortSize = 4;
  static constexpr uint64_t kIomemSize = 0x10000;

  explicit PcTestdev(std::array<IrqLine*, kIrqLines> lines);
  PcTestdev(const PcTestdev&) = delete;
  PcTestdev& operator=(const PcTestdev&) = delete;

  // A 32-bit register read and written at any byte offset and width (QEMU
  // maps it twice, at 0xE0 and, byte-wise, at 0xE8: both behave alike).
  IoDevice& data_port() { return data_port_; }
  // Writes name a guest page QEMU unmaps and maps again to shake the host's
  // MMU; nothing a guest can see, so tandem ignores them. Reads give 0.
  IoDevice& flush_port() { return flush_port_; }
  // A write sets line n to (byte != 0) for each byte at offset n; reads give 0.
  IoDevice& irq_lines() { return irq_lines_; }
  IoDevice& iomem() { return iomem_; }

  void Reset();
  void VisitState(StateVisitor& v);

 private:
  class DataPort final : public IoDevice {
   public:
    uint64_t Read(uint64_t offset, unsigned size) override;
    void Write(uint64_t offset, unsigned size, uint64_t value) override;
    uint32_t value = 0;
  };
  class FlushPort final : public IoDevice {
   public:
    uint64_t Read(uint64_t, unsigned) override { return 0; }
    void Write(uint64_t, unsigned, uint64_t) override {}
  };
  class IrqLines final : public IoDevice {
   public:
    explicit IrqLines(std::array<IrqLine*, kIrqLines> lines) : lines_(lines) {}
    uint64_t Read(uint64_t, unsigned) override { return 0; }
    void Write(uint64_t offset, unsigned size, uint64_t value) override;

   private:
    std::array<IrqLine*, kIrqLines> lines_;
  };
  class Iomem final : public IoDevice {
   public:
    uint64_t Read(uint64_t offset, unsigned size) override;
    void Write(uint64_t offset, unsigned size, uint64_t value) override;
    std::vector<uint8_t> bytes = std::vector<uint8_t>(kIomemSize);
  };

  DataPort data_port_;
  FlushPort flush_port_;
  IrqLines irq_lines_;
  Iomem iomem_;
};

}  // namespace tandem::hw
