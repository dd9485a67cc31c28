#include "target-x86/cpuid.h"

#include <cpuid.h>

#include <cstring>

namespace tandem::x86 {

namespace {

void HostVendor(uint32_t* ebx, uint32_t* ecx, uint32_t* edx) {
  unsigned a, b, c, d;
  __cpuid(0, a, b, c, d);
  *ebx = b;
  *ecx = c;
  *edx = d;
}

// Packs 16 characters of the brand string into one leaf's registers.
CpuidEntry BrandLeaf(uint32_t function, const char* brand48) {
  uint32_t r[4];
  std::memcpy(r, brand48 + (function - 0x80000002) * 16, 16);
  return CpuidEntry{function, 0, false, r[0], r[1], r[2], r[3]};
}

}  // namespace

CpuidModel CpuidModel::Default() {
  using namespace cpuid_bits;
  std::vector<CpuidEntry> e;
  CpuidEntry leaf0{0, 0, false, 1, 0, 0, 0};
  HostVendor(&leaf0.ebx, &leaf0.ecx, &leaf0.edx);
  e.push_back(leaf0);
  // Family 6, model 0x3A, stepping 9. EBX: CLFLUSH line 8 qwords, one logical
  // processor, initial APIC ID 0 (bits 31:24). EDX.APIC: the board's xAPIC
  // (hw/intc/local_apic.h); no x2APIC and no TSC-deadline timer in ECX.
  uint32_t leaf1_edx = kEdxFpu | kEdxVme | kEdxDe | kEdxPse | kEdxTsc | kEdxMsr | kEdxPae | kEdxCx8 | kEdxApic |
                       kEdxSep | kEdxPge | kEdxCmov | kEdxPat | kEdxPse36 | kEdxClflush | kEdxMmx |
                       kEdxFxsr | kEdxSse | kEdxSse2;
  // ECX: x86-64-v2 (SSE3, SSSE3, CX16, SSE4.1, SSE4.2, POPCNT); no MONITOR.
  uint32_t leaf1_ecx = kEcxSse3 | kEcxSsse3 | kEcxCx16 | kEcxSse41 | kEcxSse42 | kEcxPopcnt | kEcxHypervisor;
  e.push_back(CpuidEntry{1, 0, false, 0x000306A9, 0x00010800, leaf1_ecx, leaf1_edx});
  e.push_back(CpuidEntry{0x80000000, 0, false, 0x80000008, leaf0.ebx, leaf0.ecx, leaf0.edx});
  e.push_back(CpuidEntry{0x80000001, 0, false, 0, 0, kExtEcxLahf, kExtEdxSyscall | kExtEdxNx | kExtEdxLm});
  static constexpr char kBrand[49] = "tandem x86-64 CPU                               ";
  for (uint32_t f = 0x80000002; f <= 0x80000004; ++f) e.push_back(BrandLeaf(f, kBrand));
  // 40 physical and 48 linear address bits.
  e.push_back(CpuidEntry{0x80000008, 0, false, 0x3028, 0, 0, 0});
  return CpuidModel(std::move(e));
}

const CpuidEntry* CpuidModel::Find(uint32_t function, uint32_t index) const {
  for (const auto& entry : entries_) {
    if (entry.function == function && (!entry.indexed || entry.index == index)) return &entry;
  }
  return nullptr;
}

std::string CpuidModel::vendor() const {
  const CpuidEntry* leaf0 = Find(0, 0);
  if (!leaf0) return "";
  char v[13] = {};
  std::memcpy(v, &leaf0->ebx, 4);
  std::memcpy(v + 4, &leaf0->edx, 4);
  std::memcpy(v + 8, &leaf0->ecx, 4);
  return v;
}

CpuidResult CpuidModel::Query(uint32_t function, uint32_t index) const {
  if (const CpuidEntry* entry = Find(function, index)) {
    return {entry->eax, entry->ebx, entry->ecx, entry->edx};
  }
  const CpuidEntry* leaf0 = Find(0, 0);
  if (vendor() == "GenuineIntel" && leaf0 && function < 0x80000000 && function > leaf0->eax) {
    return Query(leaf0->eax, index);
  }
  return {};
}

CpuidResult CpuidModel::QueryForCpu(uint32_t function, uint32_t index, uint8_t apic_id) const {
  CpuidResult r = Query(function, index);
  if (function == 1) r.ebx = (r.ebx & 0x00FFFFFF) | uint32_t{apic_id} << 24;
  if ((function == 0xB || function == 0x1F) && Find(function, index)) r.edx = apic_id;
  return r;
}

}  // namespace tandem::x86
