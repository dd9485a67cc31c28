// Fitting tandem's CPUID model to what KVM can give a guest: feature-flag
// registers are masked by KVM_GET_SUPPORTED_CPUID (or, where the kernel
// refuses that ioctl, by the host's own CPUID), identification registers
// (vendor, family, brand, cache and topology words) pass through unchanged.
// Leaf meanings: SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E.
#pragma once

#include <string>
#include <vector>

#include "target-x86/cpuid.h"

namespace tandem::accel::kvm {

struct MaskedCpuid {
  std::vector<x86::CpuidEntry> entries;
  // One line per register that lost bits, e.g. "leaf 0x1 ECX: 0x00800000".
  std::vector<std::string> missing;
};

// Masks model's feature registers by supported. A feature leaf the host does
// not list at all loses all its feature bits. The hypervisor bit is always
// allowed (KVM does not report it but passes it through).
MaskedCpuid MaskCpuid(const std::vector<x86::CpuidEntry>& model,
                      const std::vector<x86::CpuidEntry>& supported);

// What the host CPU's CPUID instruction reports for the leaves of model: the
// stand-in for KVM_GET_SUPPORTED_CPUID when a kernel refuses it.
std::vector<x86::CpuidEntry> HostCpuid(const std::vector<x86::CpuidEntry>& model);

}  // namespace tandem::accel::kvm
