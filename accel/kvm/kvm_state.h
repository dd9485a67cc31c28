// Translation between tandem's CpuState and the KVM register structures
// (Linux Documentation/virt/kvm/api.rst: KVM_GET_REGS, KVM_GET_SREGS,
// KVM_GET_FPU, KVM_GET_DEBUGREGS, KVM_GET_MSRS, KVM_GET_VCPU_EVENTS). Pure functions, so they are
// tested without /dev/kvm.
#pragma once

#include "accel/kvm/kvm_uapi.h"

#include <cstdint>
#include <vector>

#include "target-x86/cpu_state.h"

namespace tandem::accel::kvm {

kvm_segment ToKvmSegment(const x86::Segment& seg);
x86::Segment FromKvmSegment(const kvm_segment& seg);

void ToKvmRegs(const x86::CpuState& s, kvm_regs* regs);
void FromKvmRegs(const kvm_regs& regs, x86::CpuState* s);

// Segments, descriptor tables, control registers, EFER and APIC base. The
// interrupt bitmap is left empty: setting a state drops an interrupt that KVM
// accepted but has not delivered yet.
void ToKvmSregs(const x86::CpuState& s, kvm_sregs* sregs);
void FromKvmSregs(const kvm_sregs& sregs, x86::CpuState* s);

void ToKvmFpu(const x86::FxState& fx, kvm_fpu* fpu);
// mxcsr_mask is not part of kvm_fpu; the caller's value is kept.
void FromKvmFpu(const kvm_fpu& fpu, x86::FxState* fx);

// The same through an XSAVE image (KVM_GET/SET_XSAVE), which unlike kvm_fpu
// carries MXCSR: the legacy region up to the XMM registers is replaced and
// XSTATE_BV marks x87 and SSE state as present; other components are kept.
void ToXsave(const x86::FxState& fx, uint8_t* xsave);
void FromXsave(const uint8_t* xsave, x86::FxState* fx);

// The interrupt shadow, NMI blocking and pending NMI, and an exception or
// interrupt KVM was injecting (KVM_GET/SET_VCPU_EVENTS). An injected NMI
// becomes a pending NMI event with NMIs blocked, as delivery would leave them.
void ToKvmEvents(const x86::CpuState& s, kvm_vcpu_events* events);
void FromKvmEvents(const kvm_vcpu_events& events, x86::CpuState* s);

void ToKvmDebugRegs(const x86::CpuState& s, kvm_debugregs* dregs);
void FromKvmDebugRegs(const kvm_debugregs& dregs, x86::CpuState* s);

// The MSRs the engine would like to sync (EFER and APIC base travel in
// kvm_sregs), and where each lives in CpuState; nullptr for other indices.
const std::vector<uint32_t>& CandidateMsrs();
uint64_t* MsrField(x86::CpuState& s, uint32_t index);

}  // namespace tandem::accel::kvm
