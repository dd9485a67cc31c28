#include "accel/kvm/kvm_cpuid.h"

#include <cpuid.h>

#include <algorithm>
#include <cstdio>

namespace tandem::accel::kvm {

namespace {

enum Reg { kEax, kEbx, kEcx, kEdx };
constexpr const char* kRegNames[] = {"EAX", "EBX", "ECX", "EDX"};

// Registers that hold feature flags (a set bit promises a feature).
struct FeatureReg {
  uint32_t function;
  uint32_t index;
  Reg reg;
};
constexpr FeatureReg kFeatureRegs[] = {
    {0x1, 0, kEcx},        {0x1, 0, kEdx},        {0x6, 0, kEax},        {0x7, 0, kEbx},
    {0x7, 0, kEcx},        {0x7, 0, kEdx},        {0x7, 1, kEax},        {0xD, 0, kEax},
    {0xD, 0, kEdx},        {0xD, 1, kEax},        {0x80000001, 0, kEcx}, {0x80000001, 0, kEdx},
    {0x80000007, 0, kEdx}, {0x80000008, 0, kEbx},
};

uint32_t& RegOf(x86::CpuidEntry& e, Reg r) {
  switch (r) {
    case kEax: return e.eax;
    case kEbx: return e.ebx;
    case kEcx: return e.ecx;
    case kEdx: return e.edx;
  }
  return e.eax;
}

const x86::CpuidEntry* FindEntry(const std::vector<x86::CpuidEntry>& list, uint32_t function,
                                 uint32_t index) {
  for (const auto& e : list) {
    if (e.function == function && (!e.indexed || e.index == index)) return &e;
  }
  return nullptr;
}

// Bits allowed whatever the host says.
uint32_t AlwaysAllowed(uint32_t function, Reg reg) {
  if (function == 1 && reg == kEcx) return x86::cpuid_bits::kEcxHypervisor;
  return 0;
}

}  // namespace

MaskedCpuid MaskCpuid(const std::vector<x86::CpuidEntry>& model,
                      const std::vector<x86::CpuidEntry>& supported) {
  MaskedCpuid out;
  out.entries = model;
  for (auto& entry : out.entries) {
    const x86::CpuidEntry* host = FindEntry(supported, entry.function, entry.index);
    for (const FeatureReg& f : kFeatureRegs) {
      if (f.function != entry.function || f.index != entry.index) continue;
      x86::CpuidEntry host_copy = host ? *host : x86::CpuidEntry{};
      uint32_t allowed = RegOf(host_copy, f.reg) | AlwaysAllowed(f.function, f.reg);
      uint32_t& value = RegOf(entry, f.reg);
      if (uint32_t lost = value & ~allowed) {
        char line[96];
        std::snprintf(line, sizeof line, "leaf 0x%x%s %s: 0x%08x", entry.function,
                      entry.index ? (".0x" + std::to_string(entry.index)).c_str() : "", kRegNames[f.reg],
                      lost);
        out.missing.push_back(line);
        value &= allowed;
      }
    }
    // Address sizes: never promise more physical or linear bits than the host has.
    if (entry.function == 0x80000008 && host) {
      uint32_t phys = std::min(entry.eax & 0xFF, host->eax & 0xFF);
      uint32_t linear = std::min((entry.eax >> 8) & 0xFF, (host->eax >> 8) & 0xFF);
      entry.eax = (entry.eax & ~0xFFFFu) | (linear << 8) | phys;
    }
  }
  return out;
}

std::vector<x86::CpuidEntry> HostCpuid(const std::vector<x86::CpuidEntry>& model) {
  unsigned max_basic = __get_cpuid_max(0, nullptr);
  unsigned max_ext = __get_cpuid_max(0x80000000, nullptr);
  std::vector<x86::CpuidEntry> out;
  for (const auto& m : model) {
    bool basic = m.function < 0x80000000;
    if (m.function > (basic ? max_basic : max_ext)) continue;
    x86::CpuidEntry e = m;
    unsigned a, b, c, d;
    __cpuid_count(m.function, m.index, a, b, c, d);
    e.eax = a;
    e.ebx = b;
    e.ecx = c;
    e.edx = d;
    out.push_back(e);
  }
  return out;
}

}  // namespace tandem::accel::kvm
