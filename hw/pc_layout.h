// The PC board's layout: every guest-physical address, I/O port and IRQ
// number that tandem's board uses, in one place. Loaders, the e820 table and
// both engines read this; devices never do (they see offsets).
// References: the IBM PC/AT technical reference for the legacy ports, the
// Intel MP spec 1.4 and QEMU's hw/i386/pc.c for the memory layout.
#pragma once

#include <cstdint>

namespace tandem::hw::layout {

// --- Guest-physical memory ------------------------------------------------
inline constexpr uint64_t kLowRamEnd = 0xA0000;          // conventional memory
inline constexpr uint64_t kVgaHoleStart = 0xA0000;       // legacy VGA window
inline constexpr uint64_t kVgaHoleEnd = 0xC0000;
inline constexpr uint64_t kBiosAliasStart = 0xE0000;     // last 128 KiB of ROM
inline constexpr uint64_t kBiosAliasSize = 0x20000;
inline constexpr uint64_t kHighMemoryStart = 0x100000;   // 1 MiB
// The i440FX PAM shadow area (i440FX datasheet 3.2.18): RAM backs all of it;
// the host bridge's PAM registers decide, per segment, whether the CPU reads
// that RAM or the ROM alias / PCI, and whether writes reach it. 12 segments
// of 16 KiB at 0xC0000-0xEFFFF, one of 64 KiB at 0xF0000.
inline constexpr uint64_t kShadowStart = 0xC0000;
inline constexpr int kShadowSegments = 13;
inline constexpr uint64_t ShadowSegmentBase(int i) { return i < 12 ? kShadowStart + i * 0x4000ull : 0xF0000; }
inline constexpr uint64_t ShadowSegmentSize(int i) { return i < 12 ? 0x4000 : 0x10000; }
inline constexpr uint64_t kMmioHoleStart = 0xC0000000;   // RAM below 4 GiB ends here at most
// MP/ACPI tables written by the loaders for direct boots (no BIOS ROM there);
// Linux scans 0xF0000-0xFFFFF (MP spec 1.4 4.0, ACPI 6.4 5.2.5.1). The e820
// map reserves this range.
inline constexpr uint64_t kFirmwareTablesStart = 0xF0000;
inline constexpr uint64_t kFirmwareTablesSize = 0x10000;
inline constexpr uint64_t kIoApicBase = 0xFEC00000;
inline constexpr uint64_t kIoApicSize = 0x1000;
inline constexpr uint64_t kPcTestdevIomemBase = 0xFF000000;  // pc-testdev's 64 KiB of MMIO
inline constexpr uint64_t kLapicBase = 0xFEE00000;
inline constexpr uint64_t kLapicSize = 0x1000;
inline constexpr uint64_t k4GiB = 0x100000000ull;
inline constexpr uint64_t kBiosMinSize = 64 * 1024;
inline constexpr uint64_t kBiosMaxSize = 16 * 1024 * 1024;

inline constexpr uint64_t kMinRamSize = 2 * 1024 * 1024;
inline constexpr uint64_t kMaxRamSize = 1ull << 40;  // further limited by the host

// --- Port I/O ---------------------------------------------------------------
inline constexpr uint16_t kPicMasterPort = 0x20;     // 2 ports
inline constexpr uint16_t kPicSlavePort = 0xA0;      // 2 ports
inline constexpr uint16_t kPicElcrPort = 0x4D0;      // 2 ports
inline constexpr uint16_t kPitPort = 0x40;           // 4 ports
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kSystemControlBPort = 0x61;  // PIT ch2 gate, speaker
inline constexpr uint16_t kI8042CommandPort = 0x64;
inline constexpr uint16_t kCmosPort = 0x70;          // 2 ports
inline constexpr uint16_t kPostPort = 0x80;
inline constexpr uint16_t kSystemControlAPort = 0x92;  // A20, fast reset
inline constexpr uint16_t kPcTestdevDataPort = 0xE0;   // QEMU pc-testdev (--device pc-testdev): 4 ports
inline constexpr uint16_t kPcTestdevFlushPort = 0xE4;  // 4 ports
inline constexpr uint16_t kPcTestdevBytePort = 0xE8;   // 4 ports, the data register again
inline constexpr uint16_t kDebugExitPort = 0xF4;     // QEMU isa-debug-exit
inline constexpr uint16_t kCom1Port = 0x3F8;         // 8 ports
inline constexpr uint16_t kDebugConsolePort = 0x402; // QEMU/Bochs debugcon
inline constexpr uint16_t kFwCfgPort = 0x510;       // 12 ports: selector, data, DMA address (QEMU's FW_CFG_IO_BASE)
inline constexpr uint16_t kAcpiPmPort = 0x600;       // PM1a event/control, PM timer (QEMU's PIIX4 base)
inline constexpr uint16_t kPciConfigPort = 0xCF8;    // 8 ports: CONFIG_ADDRESS, RCR 0xCF9, CONFIG_DATA 0xCFC
inline constexpr uint16_t kPcTestdevIrqPort = 0x2000;  // pc-testdev: one port per GSI 0-23

// --- PCI bus 0 (i440FX + PIIX3 + PIIX4 PM, as QEMU's -M pc) -----------------
inline constexpr int PciDevfn(int slot, int function) { return slot << 3 | function; }
inline constexpr int kI440fxDevfn = PciDevfn(0, 0);   // host bridge 00:00.0
inline constexpr int kPiix3Devfn = PciDevfn(1, 0);    // ISA bridge 00:01.0
inline constexpr int kPiix4PmDevfn = PciDevfn(1, 3);  // ACPI PM 00:01.3
// Virtio devices (hw/board_virtio.cc): virtio-rng in slot 3, the drives'
// virtio-blk functions from slot 4 on, in --drive order (slot 2 is left
// free, as QEMU's VGA slot), the virtio-net NIC (--nic) in the last slot,
// so that adding a drive does not move it.
inline constexpr int kVirtioRngDevfn = PciDevfn(3, 0);
inline constexpr int kFirstDriveSlot = 4;
inline constexpr int kVirtioNetDevfn = PciDevfn(31, 0);
inline constexpr int kMaxDrives = 31 - kFirstDriveSlot;
// INTx routing, shared with the DSDT's _PRT: the device in slot S drives
// with pin P (0 = INTA) the PIIX3's PIRQ (S + P - 1) % 4, the swizzle QEMU's
// piix (pci_slot_get_pirq) and SeaBIOS (piix_pci_slot_get_irq) hard-code, so
// the interrupt line SeaBIOS writes matches. PIRQ A-D always reach I/O APIC
// pins (GSIs) 16-19, and the i8259 input that the PIIX3's route register
// names when enabled.
inline constexpr int kPirqCount = 4;
inline constexpr int PirqForSlotPin(int slot, int pin) { return (slot + pin + kPirqCount - 1) % kPirqCount; }
inline constexpr int kPirqFirstGsi = 16;
// What SeaBIOS programs and the board programs itself for direct boots:
// PIRQ A-D on ISA IRQs 10, 10, 11, 11 (level-triggered through the ELCR).
inline constexpr int kDirectBootPirqIrqs[kPirqCount] = {10, 10, 11, 11};

// --- IRQ lines on the i8259 pair -------------------------------------------
inline constexpr int kPitIrq = 0;
inline constexpr int kKeyboardIrq = 1;
inline constexpr int kCascadeIrq = 2;
inline constexpr int kCom1Irq = 4;
inline constexpr int kRtcIrq = 8;
inline constexpr int kMouseIrq = 12;
inline constexpr int kSciIrq = 9;  // ACPI SCI

// --- The I/O APIC -------------------------------------------------------------
// APIC IDs: CPU i has ID i (the BSP 0), and the I/O APIC the next one, so
// the IDs on the shared APIC bus stay unique (MP spec 1.4, 3.6.6).
inline constexpr uint8_t kBspApicId = 0;
inline constexpr int kMaxCpus = 64;
constexpr uint8_t CpuApicId(int cpu) { return static_cast<uint8_t>(kBspApicId + cpu); }
constexpr uint8_t IoApicId(int cpu_count) { return static_cast<uint8_t>(cpu_count); }
inline constexpr int kIoApicPins = 24;
// Every ISA IRQ also reaches the I/O APIC: identity, except the PIT's IRQ0 on
// pin 2 (the interrupt source override of PC firmware; pin 0 is the 8259's
// INTR on real boards and unconnected here).
inline constexpr int IoApicPinForIsaIrq(int irq) { return irq == kPitIrq ? 2 : irq; }

// --- Clocks -----------------------------------------------------------------
inline constexpr uint64_t kPitFrequencyHz = 1193182;

}  // namespace tandem::hw::layout
