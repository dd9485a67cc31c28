// The one canonical x86-64 vCPU state. The interpreter works on it directly;
// the KVM engine copies it to and from KVM_{GET,SET}_{REGS,SREGS,FPU,MSRS}.
// Field meanings follow the Intel SDM vol. 3A (ch. 2 system registers, ch. 3
// segment descriptors) and vol. 1 ch. 10 (FXSAVE layout for x87/SSE).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace tandem::x86 {

enum Gpr : int { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15 };
enum SegReg : int { kEs, kCs, kSs, kDs, kFs, kGs };

// A segment register with its hidden (descriptor cache) part. The attribute
// bits are laid out as in descriptor bits 40..55 (VMX access-rights format):
//   0-3 type, 4 S, 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0;  // in bytes (already scaled by G)
  uint32_t attrib = 0;

  static constexpr uint32_t kTypeMask = 0xF;
  static constexpr uint32_t kS = 1u << 4;
  static constexpr uint32_t kDplShift = 5;
  static constexpr uint32_t kP = 1u << 7;
  static constexpr uint32_t kAvl = 1u << 12;
  static constexpr uint32_t kL = 1u << 13;
  static constexpr uint32_t kDb = 1u << 14;
  static constexpr uint32_t kG = 1u << 15;
  static constexpr uint32_t kUnusable = 1u << 16;

  uint32_t type() const { return attrib & kTypeMask; }
  bool s() const { return attrib & kS; }
  int dpl() const { return (attrib >> kDplShift) & 3; }
  bool present() const { return attrib & kP; }
  bool l() const { return attrib & kL; }
  bool db() const { return attrib & kDb; }
  bool g() const { return attrib & kG; }
  bool unusable() const { return attrib & kUnusable; }
};

struct TableRegister {
  uint64_t base = 0;
  uint16_t limit = 0;
};

// x87 and SSE state in the FXSAVE image layout (SDM vol. 1 table 10-2), so the
// KVM engine and FXSAVE/FXRSTOR copy it as one block.
struct alignas(16) FxState {
  uint16_t fcw = 0x37F;
  uint16_t fsw = 0;
  uint8_t ftw = 0;  // abridged tag word: bit set = register valid
  uint8_t reserved0 = 0;
  uint16_t fop = 0;
  uint64_t fip = 0;
  uint64_t fdp = 0;
  uint32_t mxcsr = 0x1F80;
  uint32_t mxcsr_mask = 0xFFFF;
  std::array<std::array<uint8_t, 16>, 8> st{};   // 80-bit values, 6 bytes padding
  std::array<std::array<uint8_t, 16>, 16> xmm{};
  std::array<uint8_t, 96> reserved1{};
};
static_assert(sizeof(FxState) == 512);
static_assert(offsetof(FxState, mxcsr) == 24);
static_assert(offsetof(FxState, st) == 32);
static_assert(offsetof(FxState, xmm) == 160);

// Model-specific registers that both engines carry.
struct Msrs {
  uint64_t efer = 0;
  uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0;
  uint64_t kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t tsc_aux = 0;
  uint64_t apic_base = 0xFEE00900;  // BSP, xAPIC enabled (SDM vol. 3A 10.4.4)
  uint64_t pat = 0x0007040600070406ull;
  uint64_t misc_enable = 1;  // fast strings
  uint64_t mtrr_def_type = 0;
  std::array<uint64_t, 11> mtrr_fixed{};
  std::array<uint64_t, 16> mtrr_var{};  // base/mask pairs for 8 variable ranges
};

// An exception or external interrupt already taken by the CPU and not yet
// delivered through the IDT (see CpuState::pending_event).
struct PendingEvent {
  bool valid = false;
  bool exception = false;  // else an external interrupt (already acknowledged)
  uint8_t vector = 0;
  bool has_error_code = false;
  uint32_t error_code = 0;
};

struct CpuState {
  // Hot fields first: the JIT addresses them relative to the state pointer.
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0;
  uint64_t rflags = 2;
  std::array<Segment, 6> seg{};
  Segment ldtr, tr;
  TableRegister gdtr, idtr;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  std::array<uint64_t, 8> dr{};
  uint64_t xcr0 = 1;
  uint64_t tsc = 0;  // value of the TSC when the state was taken
  Msrs msr;
  FxState fx;
  bool halted = false;
  // NMIs are blocked from an NMI's delivery to the next IRET (SDM vol. 3A 6.7.1).
  bool nmi_blocked = false;
  // An application processor after power-on or INIT: it runs nothing until
  // a startup IPI (SDM vol. 3A 8.4.1, the wait-for-SIPI state).
  bool wait_for_sipi = false;
  // Interrupts (and NMIs) are held back for one instruction after STI, MOV
  // SS or POP SS (SDM vol. 3A 6.8.3).
  bool interrupt_shadow = false;
  // An NMI the CPU has taken from its APIC but not delivered yet (blocked by
  // a running NMI handler): KVM holds such an NMI itself (KVM_GET_VCPU_EVENTS).
  bool nmi_pending = false;
  // An event whose delivery was under way when the state was read (KVM's
  // injected exception or external interrupt after an exit in the middle of
  // it): the next run delivers it before anything else.
  PendingEvent pending_event;
};
static_assert(std::is_standard_layout_v<CpuState>);
static_assert(offsetof(CpuState, gpr) == 0);
static_assert(offsetof(CpuState, rip) == 128);
static_assert(offsetof(CpuState, rflags) == 136);

// RFLAGS bits (SDM vol. 1 3.4.3).
inline constexpr uint64_t kFlagCf = 1 << 0, kFlagPf = 1 << 2, kFlagAf = 1 << 4, kFlagZf = 1 << 6,
                          kFlagSf = 1 << 7, kFlagTf = 1 << 8, kFlagIf = 1 << 9, kFlagDf = 1 << 10,
                          kFlagOf = 1 << 11, kFlagIopl = 3 << 12, kFlagNt = 1 << 14, kFlagRf = 1 << 16,
                          kFlagVm = 1 << 17, kFlagAc = 1 << 18, kFlagVif = 1 << 19, kFlagVip = 1 << 20,
                          kFlagId = 1 << 21;
inline constexpr uint64_t kArithFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

// CR0/CR4/EFER bits (SDM vol. 3A 2.5, 2.2.1).
inline constexpr uint64_t kCr0Pe = 1 << 0, kCr0Mp = 1 << 1, kCr0Em = 1 << 2, kCr0Ts = 1 << 3,
                          kCr0Et = 1 << 4, kCr0Ne = 1 << 5, kCr0Wp = 1 << 16, kCr0Am = 1 << 18,
                          kCr0Nw = 1 << 29, kCr0Cd = 1 << 30, kCr0Pg = 1ull << 31;
inline constexpr uint64_t kCr4Vme = 1 << 0, kCr4Pvi = 1 << 1, kCr4Tsd = 1 << 2, kCr4De = 1 << 3,
                          kCr4Pse = 1 << 4, kCr4Pae = 1 << 5, kCr4Mce = 1 << 6, kCr4Pge = 1 << 7,
                          kCr4Pce = 1 << 8, kCr4Osfxsr = 1 << 9, kCr4Osxmmexcpt = 1 << 10,
                          kCr4Umip = 1 << 11, kCr4Fsgsbase = 1 << 16, kCr4Pcide = 1 << 17,
                          kCr4Osxsave = 1 << 18, kCr4Smep = 1 << 20, kCr4Smap = 1 << 21;
inline constexpr uint64_t kEferSce = 1 << 0, kEferLme = 1 << 8, kEferLma = 1 << 10, kEferNxe = 1 << 11;

// Exception vectors (SDM vol. 3A table 6-1).
enum Vector : uint8_t {
  kDE = 0, kDB = 1, kNMI = 2, kBP = 3, kOF = 4, kBR = 5, kUD = 6, kNM = 7, kDF = 8,
  kTS = 10, kNP = 11, kSS = 12, kGP = 13, kPF = 14, kMF = 16, kAC = 17, kMC = 18, kXM = 19,
};

// The architectural state after RESET (SDM vol. 3A table 9-1): real mode,
// CS.selector 0xF000 with base 0xFFFF0000, RIP 0xFFF0, so the first fetch is
// at 0xFFFFFFF0, the top of the BIOS ROM.
CpuState ResetState();

// An application processor after RESET or INIT: RESET's registers with
// IA32_APIC_BASE.BSP clear, waiting for a startup IPI.
CpuState WaitForSipiState();
// The startup IPI with `vector` reaching a CPU in the wait-for-SIPI state:
// real mode at CS = vector << 8, IP 0 (SDM vol. 3A 8.4.4.1, 10.6.1).
void StartAtSipi(CpuState& s, uint8_t vector);

// Flat 32-bit protected mode, paging off, as Multiboot (spec 3.2) requires.
CpuState Flat32State(uint64_t entry);

// The current code segment's operating mode.
enum class CpuMode { kReal, kVirtual8086, kProtected16, kProtected32, kCompat16, kCompat32, kLong64 };
CpuMode ModeOf(const CpuState& s);

// A multi-line register dump for error messages (kvm_cpu__show_registers style).
std::string DumpRegisters(const CpuState& state);

}  // namespace tandem::x86
