// Wiring of the PC/AT chipset: ports and IRQs from hw/pc_layout.h.
#include "hw/pc_chipset.h"

#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

std::array<IrqLine*, 16> PicInputs(I8259Pair& pic) {
  std::array<IrqLine*, 16> inputs;
  for (int irq = 0; irq < 16; ++irq) inputs[irq] = &pic.Input(irq);
  return inputs;
}

// CMOS equipment byte (IBM PC/AT): math coprocessor present, EGA/VGA display.
constexpr uint8_t kCmosEquipment = 0x14;
constexpr uint8_t kEquipmentFpu = 0x02;

}  // namespace

PcChipset::PcChipset(PcChipsetConfig config)
    : config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : static_cast<const Clock&>(host_clock_)),
      ioapic_(apic_bus_, layout::IoApicId(config_.cpu_count)),
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
      acpi_pm_(
          clock_,
          [this](int status) {
            if (config_.request_exit) config_.request_exit(status);
          },
          &isa_irqs_[layout::kSciIrq]),  // fixed at ISA IRQ 9, as QEMU wires its PIIX4 PM
      msi_(apic_bus_, config_.log),
      pci_(config_.overlaps_memory),
      pci_ports_(pci_, [this] { RequestReset(); }),
      i440fx_(config_.set_shadow, config_.direct_boot ? I440fx::PamFor(config_.direct_boot_shadow)
                                                      : std::array<uint8_t, I440fx::kPamCount>{}),
      piix3_(PicInputs(pic_), {&ioapic_.Input(layout::kPirqFirstGsi), &ioapic_.Input(layout::kPirqFirstGsi + 1),
                               &ioapic_.Input(layout::kPirqFirstGsi + 2), &ioapic_.Input(layout::kPirqFirstGsi + 3)}),
      piix4_pm_(acpi_pm_) {
  for (int cpu = 0; cpu < config_.cpu_count; ++cpu) {
    auto lapic = std::make_unique<LocalApic>(clock_, pic_, layout::CpuApicId(cpu), &apic_bus_);
    lapic->SetEoiCallback([this](uint8_t vector) { ioapic_.EndOfInterrupt(vector); });
    lapic->set_log(config_.log);
    apic_bus_.Attach(lapic.get());
    lapics_.push_back(std::move(lapic));
  }
  // The 8259's INTR reaches every CPU's LINT0, as on a PC.
  pic_.SetOutputChangedCallback([this] {
    for (auto& lapic : lapics_) lapic->ExtIntChanged();
  });
  rtc_.SetMemorySize(config_.ram_below_4g, config_.ram_above_4g);
  rtc_.set_cmos(kCmosEquipment, kEquipmentFpu);
  a20_ = kbc_.a20_enabled() || system_control_a_.a20_enabled();
  pic_.set_log(config_.log);
  ioapic_.set_log(config_.log);
  acpi_pm_.set_log(config_.log);
  if (config_.pc_testdev) {
    // QEMU's ISA bus lines are the GSIs: 0-15 also reach the i8259.
    std::array<IrqLine*, PcTestdev::kIrqLines> gsis{};
    for (int gsi = 0; gsi < static_cast<int>(gsis.size()); ++gsi) {
      gsis[gsi] = gsi < 16 ? static_cast<IrqLine*>(&isa_irqs_[gsi]) : &ioapic_.Input(gsi);
    }
    testdev_ = std::make_unique<PcTestdev>(gsis);
  }
  pci_.set_intx_router(&piix3_);
  pci_.set_msi_target(&msi_);
  pci_.set_log(config_.log);
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
      {layout::kPciConfigPort, PciConfigPorts::kSize, &pci_ports_, "PCI config (i440FX)"},
  };
  for (const Port& port : ports) {
    Status status = pio.Register(port.base, port.length, port.device, port.name);
    if (!status.ok()) return status;
  }
  if (testdev_) {
    const Port testdev_ports[] = {
        {layout::kPcTestdevDataPort, PcTestdev::kDataPortSize, &testdev_->data_port(), "pc-testdev data"},
        {layout::kPcTestdevFlushPort, PcTestdev::kFlushPortSize, &testdev_->flush_port(), "pc-testdev flush"},
        {layout::kPcTestdevBytePort, PcTestdev::kDataPortSize, &testdev_->data_port(), "pc-testdev data (bytes)"},
        {layout::kPcTestdevIrqPort, PcTestdev::kIrqLines, &testdev_->irq_lines(), "pc-testdev IRQ lines"},
    };
    for (const Port& port : testdev_ports) {
      if (Status s = pio.Register(port.base, port.length, port.device, port.name); !s.ok()) return s;
    }
  }
  // The ACPI PM block is where the PIIX4 PM function's PMBA puts it.
  pci_.set_pio(&pio);
  const std::pair<int, PciDevice*> functions[] = {
      {layout::kI440fxDevfn, &i440fx_}, {layout::kPiix3Devfn, &piix3_}, {layout::kPiix4PmDevfn, &piix4_pm_}};
  for (auto [devfn, device] : functions) {
    if (Status s = pci_.Attach(devfn, device); !s.ok()) return s;
  }
  pci_.Reset();
  if (config_.direct_boot) ProgramLikeFirmware();
  return Status();
}

// What SeaBIOS's pciinit does on QEMU's board (piix_isa_bridge_setup,
// piix4_pm_setup), for boots without firmware.
void PcChipset::ProgramLikeFirmware() {
  uint8_t elcr[2] = {0, 0};
  uint32_t routes = 0;
  for (int p = 0; p < layout::kPirqCount; ++p) {
    int irq = layout::kDirectBootPirqIrqs[p];
    routes |= static_cast<uint32_t>(irq) << (8 * p);
    elcr[irq >> 3] |= static_cast<uint8_t>(1u << (irq & 7));
  }
  pci_.ConfigWrite(layout::kPiix3Devfn, Piix3::kPirqRoute, 4, routes);
  pic_.elcr().Write(0, 1, elcr[0]);
  pic_.elcr().Write(1, 1, elcr[1]);
  pci_.ConfigWrite(layout::kPiix4PmDevfn, Piix4Pm::kPmBase, 4, layout::kAcpiPmPort | 1u);
  pci_.ConfigWrite(layout::kPiix4PmDevfn, Piix4Pm::kPmRegMisc, 1, Piix4Pm::kPmIoEnable);
}

void PcChipset::MsiToLapic::Deliver(uint64_t address, uint32_t data) {
  constexpr uint64_t kMsiWindow = 0xFEE00000;
  if ((address & ~0xFFFFFull) != kMsiWindow) {
    if (log_) {
      log_->LogOnce(kLogGuestErrors, "msi-address", "tandem: MSI to 0x%llx, outside the APIC window 0xFEExxxxx: dropped",
                    static_cast<unsigned long long>(address));
    }
    return;
  }
  unsigned mode = (data >> 8) & 7;
  if (mode != 0 && mode != 1) {  // fixed, lowest priority
    if (log_) {
      log_->LogOnce(kLogUnimp, "msi-mode", "tandem: MSI delivery mode %u not delivered (only fixed/lowest priority)",
                    mode);
    }
    return;
  }
  ApicMessage m;
  m.vector = static_cast<uint8_t>(data);
  m.mode = static_cast<uint8_t>(mode);
  m.dest = static_cast<uint8_t>(address >> 12);
  m.logical = address & (1u << 2);
  bus_.Deliver(m, nullptr);
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
  pci_.set_mmio(&mmio);
  if (testdev_) {
    Status s = mmio.Register(layout::kPcTestdevIomemBase, PcTestdev::kIomemSize, &testdev_->iomem(), "pc-testdev iomem");
    if (!s.ok()) return s;
  }
  return mmio.Register(layout::kIoApicBase, layout::kIoApicSize, &ioapic_, "I/O APIC");
}

std::vector<TimedDevice*> PcChipset::timed_devices() {
  std::vector<TimedDevice*> devices{&pit_, &rtc_};
  for (auto& lapic : lapics_) devices.push_back(lapic.get());
  return devices;
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
  for (auto& lapic : lapics_) lapic->Reset();
  ioapic_.Reset();
  pit_.Reset();
  system_control_b_.Reset();
  com1_.Reset();
  rtc_.Reset();
  kbc_.Reset();
  post_.Reset();
  system_control_a_.Reset();
  acpi_pm_.Reset();
  pci_ports_.Reset();
  pci_.Reset();
  if (testdev_) testdev_->Reset();
  if (config_.direct_boot) ProgramLikeFirmware();
  UpdateA20();
}

void PcChipset::VisitState(StateVisitor& v) {
  v.Section("i8259");
  pic_.VisitState(v);
  for (auto& lapic : lapics_) {
    v.Section("lapic");
    lapic->VisitState(v);
  }
  v.Section("ioapic");
  ioapic_.VisitState(v);
  v.Section("i8254");
  pit_.VisitState(v);
  v.Section("port61");
  system_control_b_.VisitState(v);
  v.Section("com1");
  com1_.VisitState(v);
  v.Section("rtc");
  rtc_.VisitState(v);
  v.Section("i8042");
  kbc_.VisitState(v);
  v.Section("post");
  post_.VisitState(v);
  v.Section("port92");
  system_control_a_.VisitState(v);
  v.Section("acpi-pm");
  acpi_pm_.VisitState(v);
  v.Section("pci-config");
  pci_ports_.VisitState(v);
  v.Section("pci");
  pci_.VisitState(v);
  if (testdev_) {
    v.Section("pc-testdev");
    testdev_->VisitState(v);
  }
  // The gate follows the 8042's output port and port 0x92 as loaded.
  if (v.loading()) UpdateA20();
}

}  // namespace tandem::hw
