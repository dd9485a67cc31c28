// The KVM accelerator: runs the vCPUs with /dev/kvm; port I/O and MMIO exits go
// to the board's buses, interrupts come from the board's userspace PIC.
#pragma once

#include <memory>

#include "accel/accelerator.h"

namespace tandem::accel::kvm {

// Whether /dev/kvm can be opened and speaks the stable API; the reason if not.
Availability Probe();
// The VM with the board's memory slots; its vCPUs come from CreateVcpu().
Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board);

}  // namespace tandem::accel::kvm
