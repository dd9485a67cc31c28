// The board's virtio devices (hw/virtio): virtio-rng, one virtio-blk per
// drive and the virtio-net NIC on PCI bus 0, at the slots hw/pc_layout.h
// gives them.
#include <cstdio>
#include <memory>
#include <string>

#include "hw/board.h"
#include "hw/pc_layout.h"
#include "hw/net/slirp_backend.h"
#include "hw/net/tap_backend.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_net.h"
#include "hw/virtio/virtio_pci.h"
#include "hw/virtio/virtio_rng.h"

namespace tandem::hw {

Status Board::WireVirtio() {
  if (config_.drives.size() > static_cast<size_t>(layout::kMaxDrives)) {
    return Status::Error("at most " + std::to_string(layout::kMaxDrives) + " drives");
  }
  auto attach = [this](std::unique_ptr<virtio::VirtioDevice> device, int devfn) -> Status {
    auto pci = std::make_unique<virtio::VirtioPci>(*device, dma_, [this] { WakeFromDevice(); });
    if (config_.direct_boot) {
      // What SeaBIOS writes to the interrupt line register (its PIRQ for
      // the slot's INTA), so that a kernel without ACPI or a $PIR table
      // finds the IRQ. Set before plugging: it survives resets.
      int irq = layout::kDirectBootPirqIrqs[layout::PirqForSlotPin(devfn >> 3, 0)];
      pci->ConfigWrite(PciDevice::kInterruptLine, 1, static_cast<uint32_t>(irq));
    }
    if (Status s = chipset_->pci().Attach(devfn, pci.get()); !s.ok()) return s;
    pci->Reset();
    timed_.push_back(pci.get());
    virtio_pci_.push_back(std::move(pci));
    virtio_devices_.push_back(std::move(device));
    return Status();
  };
  if (config_.virtio_rng) {
    if (Status s = attach(std::make_unique<virtio::VirtioRng>(config_.entropy), layout::kVirtioRngDevfn); !s.ok()) return s;
  }
  for (size_t i = 0; i < config_.drives.size(); ++i) {
    auto image = RawImage::Open(config_.drives[i]);
    if (!image.ok()) return image.status();
    auto blk = std::make_unique<virtio::VirtioBlk>(std::move(*image), device_lock_, "", [](const std::string& line) {
      std::fprintf(stderr, "tandem: %s\n", line.c_str());  // a host problem: shown whatever -d says
    });
    int devfn = layout::PciDevfn(layout::kFirstDriveSlot + static_cast<int>(i), 0);
    if (Status s = attach(std::move(blk), devfn); !s.ok()) return s;
  }
  if (config_.nic.kind != NicConfig::Kind::kNone) {
    std::unique_ptr<virtio::NetBackend> backend;
    if (config_.nic.kind == NicConfig::Kind::kUser) {
      auto slirp = net::SlirpBackend::Create(config_.nic.forwards);
      if (!slirp.ok()) return slirp.status();
      backend = std::move(*slirp);
    } else {
      auto tap = net::TapBackend::Open(config_.nic.ifname);
      if (!tap.ok()) return tap.status();
      backend = std::move(*tap);
    }
    auto nic = std::make_unique<virtio::VirtioNet>(std::move(backend), device_lock_, config_.nic.mac);
    virtio::VirtioNet& started = *nic;
    if (Status s = attach(std::move(nic), layout::kVirtioNetDevfn); !s.ok()) return s;
    started.Start();  // frames flow once the transport is there
  }
  return Status();
}

}  // namespace tandem::hw
