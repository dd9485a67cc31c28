// The KVM accelerator: runs the vCPU with /dev/kvm; port I/O and MMIO exits go
// to the board's buses, interrupts come from the board's userspace PIC.
#pragma once

#include <memory>

#include "accel/accelerator.h"

namespace tandem::accel::kvm {

// Whether /dev/kvm can be opened and speaks the stable API; the reason if not.
Availability Probe();
Result<std::unique_ptr<Engine>> CreateEngine(hw::Board& board);

}  // namespace tandem::accel::kvm
