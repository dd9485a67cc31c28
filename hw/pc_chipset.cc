// Wiring of the PC/AT chipset: ports and IRQs from hw/pc_layout.h.
#include "hw/pc_chipset.h"

#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

// CMOS equipment byte (IBM PC/AT): math coprocessor present, EGA/VGA display.
constexpr uint8_t kCmosEquipment = 0x14;
constexpr uint8_t kEquipmentFpu = 0x02;

}  // namespace

PcChipset::PcChipset(PcChipsetConfig config)
    : config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : static_cast<const Clock&>(host_clock_)),
      lapic_(clock_, pic_, 0, &apic_bus_),
      ioapic_(apic_bus_, layout::kIoApicId),
      isa_irqs_(MakeIsaIrqs()),
      com1_(config_.serial_out ? *config_.serial_out : null_sink_, isa_irqs_[layout::kCom1Irq]),
      pit_(clock_, isa_irqs_[layout::kPitIrq]),
      system_control_b_(clock_, pit_),
      rtc_(clock_, isa_irqs_[layout::kRtcIrq], config_.wall_clock),
      kbc_(isa_irqs_[layout::kKeyboardIrq], isa_irqs_[layout::kMouseIrq],
           I8042::Callbacks{[this] { RequestReset(); }, [this](bool) { UpdateA20(); }}),
      kbc_data_(kbc_, I8042::kDataOffset),
      kbc_command_(kbc_, I8042::kCommandOffset),
      debug_exit_([this](int status) {
        if (config_.request_exit) config_.request_exit(status);
      }),
      debugcon_(config_.debugcon_out ? *config_.debugcon_out : null_sink_),
      system_control_a_([this] { RequestReset(); }, [this](bool) { UpdateA20(); }),
      acpi_pm_(clock_, [this](int status) {
        if (config_.request_exit) config_.request_exit(status);
      }) {
  apic_bus_.Attach(&lapic_);
  lapic_.SetEoiCallback([this](uint8_t vector) { ioapic_.EndOfInterrupt(vector); });
  pic_.SetOutputChangedCallback([this] { lapic_.ExtIntChanged(); });
  rtc_.SetMemorySize(config_.ram_below_4g, config_.ram_above_4g);
  rtc_.set_cmos(kCmosEquipment, kEquipmentFpu);
  a20_ = kbc_.a20_enabled() || system_control_a_.a20_enabled();
}

Status PcChipset::Attach(Bus& pio) {
  struct Port {
    uint16_t base;
    uint16_t length;
    IoDevice* device;
    const char* name;
  };
  const Port ports[] = {
      {layout::kPicMasterPort, 2, &pic_.master(), "i8259 master"},
      {layout::kPicSlavePort, 2, &pic_.slave(), "i8259 slave"},
      {layout::kPicElcrPort, 2, &pic_.elcr(), "i8259 ELCR"},
      {layout::kPitPort, 4, &pit_, "i8254 PIT"},
      {layout::kI8042DataPort, 1, &kbc_data_, "i8042 data"},
      {layout::kSystemControlBPort, 1, &system_control_b_, "system control B"},
      {layout::kI8042CommandPort, 1, &kbc_command_, "i8042 command"},
      {layout::kCmosPort, 2, &rtc_, "mc146818 RTC/CMOS"},
      {layout::kPostPort, 1, &post_, "POST code"},
      {layout::kSystemControlAPort, 1, &system_control_a_, "system control A"},
      {layout::kDebugExitPort, 4, &debug_exit_, "debug exit"},  // QEMU's iobase=0xf4,iosize=4
      {layout::kCom1Port, 8, &com1_, "COM1 16550A"},
      {layout::kDebugConsolePort, 1, &debugcon_, "debug console"},
      {layout::kAcpiPmPort, AcpiPm::kSize, &acpi_pm_, "ACPI PM"},
  };
  for (const Port& port : ports) {
    Status status = pio.Register(port.base, port.length, port.device, port.name);
    if (!status.ok()) return status;
  }
  return Status();
}

// ISA IRQ n drives i8259 input n and I/O APIC pin IoApicPinForIsaIrq(n); the
// cascade IRQ2 (a device on it reaches the slave's IRQ9) only the i8259.
std::array<PcChipset::SplitIrqLine, 16> PcChipset::MakeIsaIrqs() {
  std::array<SplitIrqLine, 16> lines;
  for (int irq = 0; irq < 16; ++irq) {
    IrqLine* pin = irq == layout::kCascadeIrq ? nullptr : &ioapic_.Input(layout::IoApicPinForIsaIrq(irq));
    lines[irq] = SplitIrqLine(&pic_.Input(irq), pin);
  }
  return lines;
}

Status PcChipset::AttachMmio(Bus& mmio) {
  if (Status s = mmio.Register(layout::kLapicBase, layout::kLapicSize, &lapic_, "local APIC"); !s.ok()) return s;
  return mmio.Register(layout::kIoApicBase, layout::kIoApicSize, &ioapic_, "I/O APIC");
}

void PcChipset::RequestReset() {
  if (config_.request_reset) config_.request_reset();
}

void PcChipset::UpdateA20() {
  bool enabled = kbc_.a20_enabled() || system_control_a_.a20_enabled();
  if (enabled == a20_) return;
  a20_ = enabled;
  if (config_.a20_changed) config_.a20_changed(enabled);
}

void PcChipset::Reset() {
  pic_.Reset();
  lapic_.Reset();
  ioapic_.Reset();
  pit_.Reset();
  system_control_b_.Reset();
  com1_.Reset();
  rtc_.Reset();
  kbc_.Reset();
  post_.Reset();
  system_control_a_.Reset();
  acpi_pm_.Reset();
  UpdateA20();
}

}  // namespace tandem::hw
