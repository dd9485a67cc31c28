// The one CPUID model both engines present (SDM vol. 2A, CPUID). The
// interpreter answers CPUID from it; the KVM engine hands it to
// KVM_SET_CPUID2 after masking with KVM_GET_SUPPORTED_CPUID.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::x86 {

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  bool indexed = false;  // the answer depends on ECX
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class CpuidModel {
 public:
  // An x86-64-v2 model (the features the interpreter implements) with
  // the host's vendor string, so one host gives the same answers on both engines.
  static CpuidModel Default();

  explicit CpuidModel(std::vector<CpuidEntry> entries) : entries_(std::move(entries)) {}

  // What CPUID returns for EAX=function, ECX=index. Leaves outside the table
  // behave as KVM makes them: on Intel, an out-of-range basic leaf returns the
  // highest basic leaf; otherwise all zeros.
  CpuidResult Query(uint32_t function, uint32_t index) const;

  const std::vector<CpuidEntry>& entries() const { return entries_; }
  std::vector<CpuidEntry>& mutable_entries() { return entries_; }
  std::string vendor() const;
  // What CPUID returns on the CPU with this initial APIC ID: the model's
  // answer with the ID in leaf 1 EBX[31:24] (and the x2APIC ID of leaves
  // 0xB/0x1F). Every CPU is its own package, as QEMU's -smp N (sockets=N).
  CpuidResult QueryForCpu(uint32_t function, uint32_t index, uint8_t apic_id) const;

 private:
  const CpuidEntry* Find(uint32_t function, uint32_t index) const;
  std::vector<CpuidEntry> entries_;
};

// Leaf 1 EDX/ECX and leaf 0x80000001 EDX/ECX feature bits used by tandem.
namespace cpuid_bits {
inline constexpr uint32_t kEdxFpu = 1u << 0, kEdxVme = 1u << 1, kEdxDe = 1u << 2, kEdxPse = 1u << 3, kEdxTsc = 1u << 4,
                          kEdxMsr = 1u << 5, kEdxPae = 1u << 6, kEdxCx8 = 1u << 8, kEdxApic = 1u << 9,
                          kEdxSep = 1u << 11, kEdxMtrr = 1u << 12, kEdxPge = 1u << 13,
                          kEdxCmov = 1u << 15, kEdxPat = 1u << 16, kEdxPse36 = 1u << 17,
                          kEdxClflush = 1u << 19, kEdxMmx = 1u << 23, kEdxFxsr = 1u << 24,
                          kEdxSse = 1u << 25, kEdxSse2 = 1u << 26;
// Leaf 1 ECX: with CX16, POPCNT and LAHF/SAHF (0x80000001) the x86-64-v2 level.
inline constexpr uint32_t kEcxSse3 = 1u << 0, kEcxSsse3 = 1u << 9, kEcxCx16 = 1u << 13, kEcxSse41 = 1u << 19,
                          kEcxSse42 = 1u << 20, kEcxPopcnt = 1u << 23;
inline constexpr uint32_t kEcxHypervisor = 1u << 31;
inline constexpr uint32_t kExtEdxSyscall = 1u << 11, kExtEdxNx = 1u << 20, kExtEdxLm = 1u << 29;
inline constexpr uint32_t kExtEcxLahf = 1u << 0;
}  // namespace cpuid_bits

}  // namespace tandem::x86
