// The KVM engine: a VM with vCPUs on /dev/kvm (Linux Documentation/virt/kvm/api.rst),
// with every interrupt controller and timer in userspace on the board. The
// vCPU loop is kvmtool's: KVM_RUN, then a short switch on the exit reason that
// hands port I/O and MMIO to the board's buses. Registers are synced lazily
// with a dirty flag, as QEMU's kvm_arch_get/put_registers do.
#include "accel/kvm/kvm_engine.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "accel/kvm/kvm_cpuid.h"
#include "accel/kvm/kvm_memory.h"
#include "accel/kvm/kvm_state.h"
#include "accel/kvm/kvm_uapi.h"
#include "accel/kick_latch.h"
#include "accel/startup_latch.h"
#include "hw/pc_layout.h"
#include "target-x86/page_walk.h"

namespace tandem::accel::kvm {

namespace {

using x86::CpuState;

// KVM on Intel without unrestricted guest runs real mode through a TSS (3
// pages) and an identity-mapped page table (1 page) that must lie in guest
// physical space. QEMU puts them just below the BIOS at 0xfeffd000 and
// 0xfeffc000: in the MMIO hole, clear of the I/O APIC and local APIC and
// below the largest BIOS image tandem maps.
constexpr uint64_t kTssAddr = 0xFEFFD000;
constexpr uint64_t kIdentityMapAddr = 0xFEFFC000;
static_assert(kTssAddr + 3 * 4096 <= hw::layout::k4GiB - hw::layout::kBiosMaxSize);
static_assert(kIdentityMapAddr + 4096 == kTssAddr);
static_assert(kIdentityMapAddr >= hw::layout::kLapicBase + hw::layout::kLapicSize);

// The guest runs at most this long without an exit, so devices' deadlines and
// host serial input are serviced (also the longest nap of a halted vCPU).
constexpr uint64_t kMaxSliceNs = 10'000'000;
// Shortest timer arming, so a deadline that Poll() cannot clear (a manual
// clock in a test) does not become a signal storm.
constexpr uint64_t kMinSliceNs = 20'000;

// The signal that kicks the vCPU thread out of KVM_RUN when the slice ends.
int KickSignal() { return SIGRTMIN + 4; }

// The kicked thread's kvm_run, for the signal handler: it sets immediate_exit
// so a kick that lands just before KVM_RUN is not lost (api.rst, immediate_exit).
thread_local kvm_run* t_kicked_run = nullptr;
void OnKick(int) {
  if (t_kicked_run) t_kicked_run->immediate_exit = 1;
}

std::string ErrnoMessage(const std::string& what, int err = errno) {
  return what + ": " + std::strerror(err);
}

uint64_t HostMonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

template <typename Arg>
int Ioctl(int fd, unsigned long request, Arg arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

// A KVM structure ending in a flexible array, with room for n entries.
template <typename Header, typename Entry>
class FlexBuffer {
 public:
  explicit FlexBuffer(size_t n) : storage_((sizeof(Header) + n * sizeof(Entry) + 7) / 8) {}
  Header* get() { return reinterpret_cast<Header*>(storage_.data()); }

 private:
  std::vector<uint64_t> storage_;  // zeroed, 8-byte aligned
};

// Extensions the engine cannot do without.
struct RequiredCap {
  int cap;
  const char* name;
};
constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM"},
};

Result<Fd> OpenKvm() {
  Fd kvm(open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (kvm.get() < 0) return Status::Error(ErrnoMessage("/dev/kvm"));
  int version = Ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (version < 0) return Status::Error(ErrnoMessage("KVM_GET_API_VERSION"));
  if (version != KVM_API_VERSION) {
    return Status::Error("KVM API version " + std::to_string(version) + ", need " +
                         std::to_string(KVM_API_VERSION));
  }
  for (const RequiredCap& c : kRequiredCaps) {
    if (Ioctl(kvm.get(), KVM_CHECK_EXTENSION, c.cap) <= 0) {
      return Status::Error(std::string("KVM lacks ") + c.name);
    }
  }
  return kvm;
}

const char* ExitName(uint32_t reason) {
  switch (reason) {
#define TANDEM_EXIT_NAME(name) \
  case KVM_EXIT_##name: return #name;
    TANDEM_EXIT_NAME(UNKNOWN) TANDEM_EXIT_NAME(EXCEPTION) TANDEM_EXIT_NAME(IO)
    TANDEM_EXIT_NAME(HYPERCALL) TANDEM_EXIT_NAME(DEBUG) TANDEM_EXIT_NAME(HLT) TANDEM_EXIT_NAME(MMIO)
    TANDEM_EXIT_NAME(IRQ_WINDOW_OPEN) TANDEM_EXIT_NAME(SHUTDOWN) TANDEM_EXIT_NAME(FAIL_ENTRY)
    TANDEM_EXIT_NAME(INTR) TANDEM_EXIT_NAME(SET_TPR) TANDEM_EXIT_NAME(TPR_ACCESS) TANDEM_EXIT_NAME(NMI)
    TANDEM_EXIT_NAME(INTERNAL_ERROR) TANDEM_EXIT_NAME(SYSTEM_EVENT) TANDEM_EXIT_NAME(IOAPIC_EOI)
    TANDEM_EXIT_NAME(HYPERV) TANDEM_EXIT_NAME(X86_RDMSR) TANDEM_EXIT_NAME(X86_WRMSR)
    TANDEM_EXIT_NAME(DIRTY_RING_FULL) TANDEM_EXIT_NAME(AP_RESET_HOLD) TANDEM_EXIT_NAME(X86_BUS_LOCK)
    TANDEM_EXIT_NAME(XEN) TANDEM_EXIT_NAME(NOTIFY)
#undef TANDEM_EXIT_NAME
    default: return "?";
  }
}

const char* InternalErrorName(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception while delivering an exception";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exit while delivering an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected VM exit reason";
    default: return "unknown suberror";
  }
}

// The VM: /dev/kvm, the VM fd with the board's memory slots, and the CPUID
// model less what KVM cannot give (computed once for every vCPU).
class KvmMachine final : public Machine {
 public:
  KvmMachine(hw::Board& board, Fd kvm, Fd vm, int run_size, std::unique_ptr<KvmMemorySlots> memory_slots)
      : board_(board), kvm_(std::move(kvm)), vm_(std::move(vm)), memory_slots_(std::move(memory_slots)),
        run_size_(run_size) {}

  std::string_view name() const override { return "kvm"; }
  Result<std::unique_ptr<Vcpu>> CreateVcpu(int index) override;

  // The CPUID model as KVM can give it (logs the bits it cannot, once).
  void PrepareCpuid();

  hw::Board& board_;
  Fd kvm_, vm_;
  std::unique_ptr<KvmMemorySlots> memory_slots_;  // follows the board's memory map
  int run_size_;
  std::vector<x86::CpuidEntry> cpuid_;
};

// One vCPU: its fd, its kvm_run area, its register cache and its kick timer.
class KvmVcpu final : public Vcpu {
 public:
  // CPU 0 starts at the reset vector; the others wait for a startup IPI.
  KvmVcpu(KvmMachine& machine, int index, Fd vcpu, kvm_run* run, size_t run_size)
      : machine_(machine), board_(machine.board_), socket_(board_.cpu(index)), kvm_(machine.kvm_),
        vm_(machine.vm_), index_(index), vcpu_(std::move(vcpu)), run_(run), run_size_(run_size) {
    if (index != 0) SetState(x86::WaitForSipiState());
    const char* breakpoints = std::getenv("TANDEM_KVM_BREAKPOINTS");
    stepped_breakpoints_ = breakpoints && std::string(breakpoints) == "step";
    // The APIC wakes the vCPU after INIT and SIPI too.
    socket_.SetCpuLinks({[this] { WakeForInterrupt(); }, [this] { startup_.Init(); },
                         [this](uint8_t vector) { startup_.Startup(vector); }});
  }

  ~KvmVcpu() override {
    socket_.SetCpuLinks({});
    if (timer_created_) timer_delete(timer_);
    if (run_) munmap(run_, run_size_);
  }

  int index() const override { return index_; }

  // Setup after the vCPU exists: CPUID, the MSR list, optional state.
  Status Configure();

  void SetState(const CpuState& state) override {
    state_ = state;
    halted_ = state.halted;
    wait_for_sipi_ = state.wait_for_sipi;
    socket_.set_stuck(false);  // until Run() looks at the new state
    state_valid_ = true;
    dirty_ = true;
  }

  CpuState GetState() override {
    if (!state_valid_) {
      if (Status s = FetchState(); !s.ok()) std::fprintf(stderr, "kvm: %s\n", s.message().c_str());
      state_valid_ = true;
    }
    CpuState s = state_;
    s.halted = halted_;
    s.wait_for_sipi = wait_for_sipi_;
    // The board's local APIC owns the TPR and IA32_APIC_BASE (userspace APIC).
    s.cr8 = socket_.tpr() >> 4;
    s.msr.apic_base = socket_.apic_base();
    return s;
  }

  // The kick latch first, then the signal: a thread about to enter KVM_RUN
  // either sees the latch or takes the signal as it unblocks it, so a kick is
  // never lost (the handler sets immediate_exit; api.rst, immediate_exit).
  void Kick() override {
    kick_.Set();
    std::lock_guard<std::mutex> lock(thread_mutex_);
    if (in_run_) pthread_kill(thread_, KickSignal());
  }

  // An interrupt, NMI, INIT or SIPI for this vCPU (from the local APIC,
  // under the board's device lock, on any thread): out of KVM_RUN or its
  // HLT wait to look at them, without ending Run(). Its own thread is
  // neither, and takes them before the next KVM_RUN.
  void WakeForInterrupt() {
    if (kick_.OnOwnerThread()) return;
    kick_.Wake();
    std::lock_guard<std::mutex> lock(thread_mutex_);
    if (in_run_) pthread_kill(thread_, KickSignal());
  }

  RunOutcome Run() override;
  Status SetDebug(const DebugConfig& config) override;
  // Lockstep (cli/lockstep_command.cc): `budget` single steps
  // (KVM_GUESTDBG_SINGLESTEP) on the calling thread, port I/O and MMIO to the
  // board, without polling it, arming the kick timer or waiting. A step is
  // whatever KVM runs between two #DB traps: one instruction, or an event's
  // handler as far as its IRET and one instruction more (delivery clears TF).
  // can_run_slices() stays false: the steps are not an instruction count.
  RunOutcome RunSlice(uint64_t budget) override;
  uint64_t instructions_retired() const override { return steps_; }

 private:
  Status FetchState();
  Status PushState();
  Status PutTsc();
  Status FetchFpu(x86::FxState* fx);
  Status PrepareThread();
  Status InjectInterrupt();
  Status ApplyDebug(bool step);
  void PlantBreakpoints();
  void RemoveBreakpoints();
  // One KVM_RUN after the interrupt injection and cr8 sync; r < 0 with errno in *err.
  int EnterGuest(int* err);
  RunOutcome StepSlice(uint64_t budget);
  void ArmTimer();
  void CompletePendingIo();
  // Applies an INIT or SIPI the APIC delivered, then tells the socket whether
  // only another CPU can wake this one: waiting for a SIPI, or halted with
  // interrupts off and no NMI (when every CPU waits so, nothing can).
  bool UpdateStuck() {
    if (startup_.pending()) {
      CpuState s = GetState();
      if (startup_.Apply(s)) SetState(s);
    }
    const bool stuck = wait_for_sipi_ || (halted_ && !InterruptsEnabled() && !socket_.HasPendingNmi());
    socket_.set_stuck(stuck);
    return stuck;
  }
  bool InterruptsEnabled() const {
    return state_valid_ ? (state_.rflags & x86::kFlagIf) != 0 : run_->if_flag != 0;
  }
  // Handles the exit in run_; returns an outcome when Run() must end.
  std::optional<RunOutcome> HandleExit();
  // A #DB (1) or #BP (3) exit, or a HLT (0) ending a single step: kDebug
  // when the debugger (or RunSlice) wanted to stop here.
  std::optional<RunOutcome> DebugStop(uint32_t exception);
  bool IsBreakpoint(uint64_t linear) const {
    return std::find(debug_.breakpoints.begin(), debug_.breakpoints.end(), linear) != debug_.breakpoints.end();
  }
  void HandlePio();
  void HandleMmio();
  bool IsRom(uint64_t gpa) const;
  RunOutcome Failure(RunOutcome::Kind kind, std::string what) {
    return RunOutcome{kind, std::move(what) + "\n" + x86::DumpRegisters(GetState())};
  }

  KvmMachine& machine_;
  hw::Board& board_;
  hw::CpuSocket& socket_;  // this CPU's I/O, local APIC and interrupt pins
  StartupLatch startup_;
  const Fd& kvm_;
  const Fd& vm_;
  int index_;
  Fd vcpu_;
  kvm_run* run_;
  size_t run_size_;
  KickLatch kick_;
  // The thread inside Run(), for Kick()'s signal.
  std::mutex thread_mutex_;
  pthread_t thread_{};
  bool in_run_ = false;
  std::vector<uint32_t> msrs_;  // the MSRs KVM lets us read and write
  std::vector<uint64_t> xsave_;  // KVM_GET_XSAVE buffer; empty: use kvm_fpu
  bool has_xcrs_ = false;
  bool has_debugregs_ = false;

  // The register cache: valid when it matches (or is newer than) KVM's copy,
  // dirty when it is newer and must be pushed before the next KVM_RUN.
  CpuState state_;
  bool state_valid_ = false;
  bool dirty_ = false;
  // run_'s interrupt fields describe the vCPU (not stale after SetState).
  bool run_fields_fresh_ = false;
  // The last exit was port I/O or MMIO: KVM finishes it on the next KVM_RUN.
  bool io_pending_ = false;
  // HLT exits are handled here (no in-kernel irqchip): the vCPU waits in
  // userspace until an interrupt it can take arrives.
  bool halted_ = false;
  // An AP before its startup IPI: KVM_RUN is not entered (KVM's own MP
  // state is not used without an in-kernel irqchip).
  bool wait_for_sipi_ = false;

  // The debugger's wishes (SetDebug) and what KVM was last told.
  DebugConfig debug_;
  bool debug_resuming_ = false;  // the next Run() starts where the debugger left it
  bool step_over_ = false;       // this KVM_RUN steps off a breakpoint at RIP
  bool slicing_ = false;         // inside RunSlice(): every step stops
  // TANDEM_KVM_BREAKPOINTS=step: breakpoints by single-stepping and
  // comparing RIP, for hosts whose KVM never sees the guest's INT3 (QEMU's
  // TCG, under the nested sandbox, delivers it without the #BP intercept).
  // Slow, and blind inside interrupt handlers (delivery clears TF).
  bool stepped_breakpoints_ = false;
  struct Planted {
    uint64_t linear, gpa;
    uint8_t saved;  // the byte the INT3 replaced
  };
  std::vector<Planted> planted_;  // INT3s in guest memory while the guest runs
  uint32_t debug_control_ = 0;   // kvm_guest_debug.control last set
  uint64_t steps_ = 0;           // RunSlice() steps

  timer_t timer_{};
  bool timer_created_ = false;
  pid_t timer_tid_ = 0;
  uint64_t armed_at_ns_ = 0;  // host CLOCK_MONOTONIC expiry of the armed timer
};

void KvmMachine::PrepareCpuid() {
  const auto& model = board_.cpuid().entries();
  std::vector<x86::CpuidEntry> supported;
  bool from_kvm = false;
  for (size_t n = 128; n <= 4096 && !from_kvm; n *= 2) {
    FlexBuffer<kvm_cpuid2, kvm_cpuid_entry2> buf(n);
    buf.get()->nent = static_cast<uint32_t>(n);
    if (Ioctl(kvm_.get(), KVM_GET_SUPPORTED_CPUID, buf.get()) == 0) {
      for (uint32_t i = 0; i < buf.get()->nent; ++i) {
        const kvm_cpuid_entry2& e = buf.get()->entries[i];
        supported.push_back({e.function, e.index, (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0,
                             e.eax, e.ebx, e.ecx, e.edx});
      }
      from_kvm = true;
    } else if (errno != E2BIG) {
      std::fprintf(stderr, "kvm: %s; checking the CPUID model against the host CPU instead\n",
                   ErrnoMessage("KVM_GET_SUPPORTED_CPUID").c_str());
      supported = HostCpuid(model);
      break;
    }
  }
  MaskedCpuid masked = MaskCpuid(model, supported);
  // The guest runs without them, as on a CPU that lacks them: a detail
  // for `-d unimp` (the nested sandbox's CPU has no VME, say).
  for (const auto& line : masked.missing) {
    board_.log().Log(hw::kLogUnimp, "kvm: the host cannot give CPUID %s; the guest does not see these bits",
                     line.c_str());
  }
  cpuid_ = std::move(masked.entries);
  board_.set_cpuid(x86::CpuidModel(cpuid_));
}

Status KvmVcpu::Configure() {
  // --- CPUID: the board's model, less what KVM cannot give.
  const std::vector<x86::CpuidEntry>& entries = machine_.cpuid_;
  FlexBuffer<kvm_cpuid2, kvm_cpuid_entry2> cpuid(entries.size());
  cpuid.get()->nent = static_cast<uint32_t>(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    kvm_cpuid_entry2& k = cpuid.get()->entries[i];
    k.function = e.function;
    k.index = e.index;
    k.flags = e.indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    k.eax = e.eax;
    k.ebx = e.ebx;
    k.ecx = e.ecx;
    k.edx = e.edx;
    // This CPU's initial APIC ID (x86::CpuidModel::QueryForCpu).
    const x86::CpuidResult own = x86::CpuidModel({e}).QueryForCpu(e.function, e.index, socket_.apic_id());
    k.ebx = own.ebx;
    k.edx = own.edx;
  }
  if (Ioctl(vcpu_.get(), KVM_SET_CPUID2, cpuid.get()) < 0) {
    return Status::Error(ErrnoMessage("KVM refused the CPUID model (KVM_SET_CPUID2)"));
  }

  // --- MSRs: those of ours that KVM lists; if it will not list them, those
  // that a KVM_GET_MSRS of the one MSR reads.
  FlexBuffer<kvm_msr_list, uint32_t> list(1024);
  list.get()->nmsrs = 1024;
  if (Ioctl(kvm_.get(), KVM_GET_MSR_INDEX_LIST, list.get()) == 0) {
    const uint32_t* begin = list.get()->indices;
    const uint32_t* end = begin + list.get()->nmsrs;
    for (uint32_t m : CandidateMsrs()) {
      if (std::find(begin, end, m) != end) msrs_.push_back(m);
    }
  } else {
    for (uint32_t m : CandidateMsrs()) {
      FlexBuffer<kvm_msrs, kvm_msr_entry> one(1);
      one.get()->nmsrs = 1;
      one.get()->entries[0].index = m;
      if (Ioctl(vcpu_.get(), KVM_GET_MSRS, one.get()) == 1) msrs_.push_back(m);
    }
  }
  if (msrs_.empty()) {
    std::fprintf(stderr, "kvm: KVM gives access to none of STAR, LSTAR, SYSENTER_*, PAT, ...; "
                         "these MSRs are not carried by GetState/SetState\n");
  }
  // Optional state, used when both directions work.
  if (Ioctl(kvm_.get(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
    int size = Ioctl(vm_.get(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    xsave_.assign(std::max<size_t>(sizeof(kvm_xsave), size > 0 ? size : 0) / 8, 0);
    if (Ioctl(vcpu_.get(), KVM_GET_XSAVE2, xsave_.data()) < 0 &&
        Ioctl(vcpu_.get(), KVM_GET_XSAVE, xsave_.data()) < 0) {
      xsave_.clear();
    }
  }
  kvm_xcrs xcrs{};
  has_xcrs_ = Ioctl(kvm_.get(), KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0 &&
              Ioctl(vcpu_.get(), KVM_GET_XCRS, &xcrs) == 0;
  kvm_debugregs dregs{};
  has_debugregs_ = Ioctl(kvm_.get(), KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0 &&
                   Ioctl(vcpu_.get(), KVM_GET_DEBUGREGS, &dregs) == 0;
  return Status();
}

Status KvmVcpu::FetchState() {
  kvm_regs regs;
  if (Ioctl(vcpu_.get(), KVM_GET_REGS, &regs) < 0) return Status::Error(ErrnoMessage("KVM_GET_REGS"));
  FromKvmRegs(regs, &state_);
  kvm_sregs sregs;
  if (Ioctl(vcpu_.get(), KVM_GET_SREGS, &sregs) < 0) return Status::Error(ErrnoMessage("KVM_GET_SREGS"));
  FromKvmSregs(sregs, &state_);
  if (Status s = FetchFpu(&state_.fx); !s.ok()) return s;
  if (has_xcrs_) {
    kvm_xcrs xcrs{};
    if (Ioctl(vcpu_.get(), KVM_GET_XCRS, &xcrs) < 0) return Status::Error(ErrnoMessage("KVM_GET_XCRS"));
    for (uint32_t i = 0; i < xcrs.nr_xcrs; ++i) {
      if (xcrs.xcrs[i].xcr == 0) state_.xcr0 = xcrs.xcrs[i].value;
    }
  }
  kvm_vcpu_events events;
  if (Ioctl(vcpu_.get(), KVM_GET_VCPU_EVENTS, &events) < 0) return Status::Error(ErrnoMessage("KVM_GET_VCPU_EVENTS"));
  FromKvmEvents(events, &state_);
  if (has_debugregs_) {
    kvm_debugregs dregs;
    if (Ioctl(vcpu_.get(), KVM_GET_DEBUGREGS, &dregs) < 0) {
      return Status::Error(ErrnoMessage("KVM_GET_DEBUGREGS"));
    }
    FromKvmDebugRegs(dregs, &state_);
  }
  if (!msrs_.empty()) {
    FlexBuffer<kvm_msrs, kvm_msr_entry> buf(msrs_.size());
    buf.get()->nmsrs = static_cast<uint32_t>(msrs_.size());
    for (size_t i = 0; i < msrs_.size(); ++i) buf.get()->entries[i].index = msrs_[i];
    int n = Ioctl(vcpu_.get(), KVM_GET_MSRS, buf.get());
    if (n < 0) return Status::Error(ErrnoMessage("KVM_GET_MSRS"));
    for (int i = 0; i < n; ++i) *MsrField(state_, buf.get()->entries[i].index) = buf.get()->entries[i].data;
  }
  return Status();
}

// x87/SSE state into xsave_ (and state_.fx when fetching for GetState).
Status KvmVcpu::FetchFpu(x86::FxState* fx) {
  if (xsave_.empty()) {
    kvm_fpu fpu;
    if (Ioctl(vcpu_.get(), KVM_GET_FPU, &fpu) < 0) return Status::Error(ErrnoMessage("KVM_GET_FPU"));
    if (fx) FromKvmFpu(fpu, fx);
    return Status();
  }
  if (Ioctl(vcpu_.get(), xsave_.size() * 8 > sizeof(kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
            xsave_.data()) < 0) {
    return Status::Error(ErrnoMessage("KVM_GET_XSAVE"));
  }
  if (fx) FromXsave(reinterpret_cast<const uint8_t*>(xsave_.data()), fx);
  return Status();
}

Status KvmVcpu::PushState() {
  // Control registers and EFER first: KVM checks the rest against the mode.
  kvm_sregs sregs;
  ToKvmSregs(state_, &sregs);
  if (Ioctl(vcpu_.get(), KVM_SET_SREGS, &sregs) < 0) return Status::Error(ErrnoMessage("KVM_SET_SREGS"));
  kvm_regs regs;
  ToKvmRegs(state_, &regs);
  if (Ioctl(vcpu_.get(), KVM_SET_REGS, &regs) < 0) return Status::Error(ErrnoMessage("KVM_SET_REGS"));
  if (xsave_.empty()) {
    kvm_fpu fpu;
    ToKvmFpu(state_.fx, &fpu);
    if (Ioctl(vcpu_.get(), KVM_SET_FPU, &fpu) < 0) return Status::Error(ErrnoMessage("KVM_SET_FPU"));
  } else {
    // Fetch first so the components tandem does not model keep their values.
    if (Status s = FetchFpu(nullptr); !s.ok()) return s;
    ToXsave(state_.fx, reinterpret_cast<uint8_t*>(xsave_.data()));
    if (Ioctl(vcpu_.get(), KVM_SET_XSAVE, xsave_.data()) < 0) {
      return Status::Error(ErrnoMessage("KVM_SET_XSAVE"));
    }
  }
  if (has_xcrs_) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = state_.xcr0;
    if (Ioctl(vcpu_.get(), KVM_SET_XCRS, &xcrs) < 0) return Status::Error(ErrnoMessage("KVM_SET_XCRS"));
  }
  if (has_debugregs_) {
    kvm_debugregs dregs;
    ToKvmDebugRegs(state_, &dregs);
    if (Ioctl(vcpu_.get(), KVM_SET_DEBUGREGS, &dregs) < 0) {
      return Status::Error(ErrnoMessage("KVM_SET_DEBUGREGS"));
    }
  }
  kvm_vcpu_events events;
  ToKvmEvents(state_, &events);
  if (Ioctl(vcpu_.get(), KVM_SET_VCPU_EVENTS, &events) < 0) return Status::Error(ErrnoMessage("KVM_SET_VCPU_EVENTS"));
  // KVM_SET_MSRS stops at the first MSR it refuses; skip that one (once
  // logged) and go on with the rest.
  for (size_t first = 0; first < msrs_.size();) {
    size_t count = msrs_.size() - first;
    FlexBuffer<kvm_msrs, kvm_msr_entry> buf(count);
    buf.get()->nmsrs = static_cast<uint32_t>(count);
    for (size_t i = 0; i < count; ++i) {
      buf.get()->entries[i].index = msrs_[first + i];
      buf.get()->entries[i].data = *MsrField(state_, msrs_[first + i]);
    }
    int n = Ioctl(vcpu_.get(), KVM_SET_MSRS, buf.get());
    if (n < 0) return Status::Error(ErrnoMessage("KVM_SET_MSRS"));
    if (static_cast<size_t>(n) == count) break;
    std::fprintf(stderr, "kvm: KVM refused MSR 0x%x = 0x%" PRIx64 "; not synced from now on\n",
                 msrs_[first + n], *MsrField(state_, msrs_[first + n]));
    msrs_.erase(msrs_.begin() + first + n);
    first += n;
  }
  if (Status s = PutTsc(); !s.ok()) return s;
  dirty_ = false;
  run_fields_fresh_ = false;  // if_flag and ready_for_interrupt_injection are stale
  return Status();
}

// KVM takes a host write of IA32_TSC that is 0, or near the value it
// expects, as "synchronize with the other vCPUs" and keeps the running
// offset (x86.c, kvm_synchronize_tsc): after SetState(tsc = 0) the guest
// would read on from the old count. Where KVM lets us set the offset
// (KVM_VCPU_TSC_OFFSET, Linux 5.16), move it by what the guest reads now
// minus state_.tsc, whatever the TSC scaling.
Status KvmVcpu::PutTsc() {
  kvm_device_attr attr{};
  attr.group = KVM_VCPU_TSC_CTRL;
  attr.attr = KVM_VCPU_TSC_OFFSET;
  if (Ioctl(vcpu_.get(), KVM_HAS_DEVICE_ATTR, &attr) != 0) return Status();
  uint64_t offset = 0;
  attr.addr = reinterpret_cast<uint64_t>(&offset);
  if (Ioctl(vcpu_.get(), KVM_GET_DEVICE_ATTR, &attr) < 0) {
    return Status::Error(ErrnoMessage("KVM_GET_DEVICE_ATTR (TSC offset)"));
  }
  FlexBuffer<kvm_msrs, kvm_msr_entry> tsc(1);
  tsc.get()->nmsrs = 1;
  tsc.get()->entries[0].index = 0x10;  // IA32_TSC
  if (Ioctl(vcpu_.get(), KVM_GET_MSRS, tsc.get()) != 1) return Status::Error(ErrnoMessage("KVM_GET_MSRS (IA32_TSC)"));
  offset += state_.tsc - tsc.get()->entries[0].data;
  if (Ioctl(vcpu_.get(), KVM_SET_DEVICE_ATTR, &attr) < 0) {
    return Status::Error(ErrnoMessage("KVM_SET_DEVICE_ATTR (TSC offset)"));
  }
  return Status();
}

// The kick timer and signal mask belong to the thread that calls Run().
Status KvmVcpu::PrepareThread() {
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  if (timer_created_ && timer_tid_ == tid) return Status();
  if (timer_created_) timer_delete(timer_);
  timer_created_ = false;
  struct sigaction sa {};
  sa.sa_handler = OnKick;  // no SA_RESTART: the kick must interrupt KVM_RUN
  sigemptyset(&sa.sa_mask);
  if (sigaction(KickSignal(), &sa, nullptr) < 0) return Status::Error(ErrnoMessage("sigaction"));
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = KickSignal();
  sev._sigev_un._tid = tid;  // sigev_notify_thread_id in newer glibc
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer_) < 0) return Status::Error(ErrnoMessage("timer_create"));
  timer_created_ = true;
  timer_tid_ = tid;
  armed_at_ns_ = 0;
  return Status();
}

void KvmVcpu::ArmTimer() {
  uint64_t now = board_.clock().NowNs();
  uint64_t deadline = board_.NextDeadlineNs();
  uint64_t delay = deadline > now ? std::min(deadline - now, kMaxSliceNs) : kMinSliceNs;
  delay = std::max(delay, kMinSliceNs);
  uint64_t host_now = HostMonotonicNs();
  uint64_t expiry = host_now + delay;
  // A timer already armed to fire in time needs no syscall.
  if (armed_at_ns_ > host_now && armed_at_ns_ <= expiry) return;
  itimerspec its{};
  its.it_value.tv_sec = static_cast<time_t>(expiry / 1000000000ull);
  its.it_value.tv_nsec = static_cast<long>(expiry % 1000000000ull);
  timer_settime(timer_, TIMER_ABSTIME, &its, nullptr);
  armed_at_ns_ = expiry;
}

// With the userspace PIC (api.rst, KVM_INTERRUPT): inject when the vCPU can
// take an interrupt now, else ask KVM to exit when it can.
// NMIs go to KVM as soon as the board has one (KVM_NMI): KVM itself holds
// them while the guest blocks NMIs and injects at the next NMI window.
Status KvmVcpu::InjectInterrupt() {
  hw::CpuSocket& irqs = socket_;
  if (irqs.HasPendingNmi()) {
    irqs.AcknowledgeNmi();
    if (Ioctl(vcpu_.get(), KVM_NMI, 0) < 0) return Status::Error(ErrnoMessage("KVM_NMI"));
  }
  if (!irqs.MaybeInterrupt() || !irqs.HasPendingInterrupt()) {
    run_->request_interrupt_window = 0;
    return Status();
  }
  if (run_fields_fresh_ && run_->ready_for_interrupt_injection && run_->if_flag) {
    std::optional<uint8_t> vector = irqs.AcknowledgeInterrupt();
    if (!vector) {  // another CPU took it meanwhile (lowest priority, the PIC)
      run_->request_interrupt_window = 0;
      return Status();
    }
    kvm_interrupt irq{*vector};
    if (Ioctl(vcpu_.get(), KVM_INTERRUPT, &irq) < 0) {
      return Status::Error(ErrnoMessage("KVM_INTERRUPT vector " + std::to_string(irq.irq)));
    }
    run_fields_fresh_ = false;
    run_->request_interrupt_window = irqs.HasPendingInterrupt() ? 1 : 0;
  } else {
    run_->request_interrupt_window = 1;
  }
  return Status();
}

RunOutcome KvmVcpu::Run() {
  if (Status s = PrepareThread(); !s.ok()) return RunOutcome{RunOutcome::Kind::kError, s.message()};
  // The kick signal stays blocked except around KVM_RUN, so it interrupts
  // nothing else this thread does (device writes to a terminal, say).
  sigset_t kick, saved;
  sigemptyset(&kick);
  sigaddset(&kick, KickSignal());
  pthread_sigmask(SIG_BLOCK, &kick, &saved);
  t_kicked_run = run_;
  kick_.SetOwner();
  {
    std::lock_guard<std::mutex> lock(thread_mutex_);
    thread_ = pthread_self();
    in_run_ = true;
  }

  RunOutcome outcome;
  for (;;) {
    if (board_.stop_requested()) break;
    if (kick_.Take()) {
      outcome = RunOutcome{RunOutcome::Kind::kKicked, ""};
      break;
    }
    if (UpdateStuck()) {
      if (board_.AllCpusStuck()) {
        outcome = Failure(RunOutcome::Kind::kHalted, "vCPU halted with interrupts disabled");
        break;
      }
      if (kick_.ReadyToWait() && !startup_.pending() && !socket_.HasPendingNmi()) {
        board_.WaitForEvent(kMaxSliceNs, kick_.wake_fd());
      }
      board_.Poll();
      continue;
    }
    if (halted_) {
      if (socket_.HasPendingInterrupt() || socket_.HasPendingNmi()) {
        halted_ = false;
      } else {
        if (kick_.ReadyToWait() && !socket_.MaybeInterrupt() && !socket_.HasPendingNmi() && !startup_.pending()) {
          board_.WaitForEvent(kMaxSliceNs, kick_.wake_fd());
        }
        board_.Poll();
        continue;
      }
    }
    if (dirty_) {
      if (Status s = PushState(); !s.ok()) {
        outcome = Failure(RunOutcome::Kind::kError, "kvm: cannot load the vCPU state: " + s.message());
        break;
      }
    }
    if (Status s = InjectInterrupt(); !s.ok()) {
      outcome = Failure(RunOutcome::Kind::kError, "kvm: " + s.message());
      break;
    }
    if (Status s = ApplyDebug(false); !s.ok()) {
      outcome = Failure(RunOutcome::Kind::kError, "kvm: " + s.message());
      break;
    }
    ArmTimer();
    pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
    int err = 0;
    int r = EnterGuest(&err);
    pthread_sigmask(SIG_BLOCK, &kick, nullptr);
    if (r < 0) {
      if (err == EINTR || err == EAGAIN) {
        armed_at_ns_ = 0;  // the kick may have been the timer: re-arm
        board_.Poll();
        continue;
      }
      outcome = Failure(RunOutcome::Kind::kError, ErrnoMessage("kvm: KVM_RUN", err));
      break;
    }
    if (std::optional<RunOutcome> end = HandleExit()) {
      outcome = std::move(*end);
      break;
    }
    board_.Poll();
  }

  CompletePendingIo();
  RemoveBreakpoints();
  itimerspec off{};
  timer_settime(timer_, 0, &off, nullptr);
  armed_at_ns_ = 0;
  {
    std::lock_guard<std::mutex> lock(thread_mutex_);
    in_run_ = false;
  }
  // Drop kick signals still pending (a later kick is kept by the latch).
  timespec zero{};
  while (sigtimedwait(&kick, nullptr, &zero) > 0) {
  }
  t_kicked_run = nullptr;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return outcome;
}

int KvmVcpu::EnterGuest(int* err) {
  // Without an in-kernel LAPIC, KVM keeps CR8 in kvm_run: it is the
  // userspace LAPIC's TPR[7:4] (api.rst, "cr8").
  const uint8_t tpr = socket_.tpr();
  run_->cr8 = tpr >> 4;
  int r = ioctl(vcpu_.get(), KVM_RUN, 0);
  *err = errno;
  if (run_->cr8 != (tpr >> 4u)) socket_.set_tpr(static_cast<uint8_t>(run_->cr8 << 4));
  // KVM keeps a WRMSR IA32_APIC_BASE to itself and reports the MSR on every
  // exit (api.rst, "apic_base"): the board's APIC gets the change, as the
  // interpreter's WRMSR gives it.
  if (run_->apic_base != socket_.apic_base()) socket_.SetApicBase(run_->apic_base);
  run_->immediate_exit = 0;
  state_valid_ = false;
  io_pending_ = false;
  run_fields_fresh_ = true;
  return r;
}

// Breakpoints are software ones (KVM_GUESTDBG_USE_SW_BP, as QEMU's gdbstub
// plants them): an INT3 written over the first byte of each while the guest
// runs, the byte put back whenever Run() returns, so a debugger reading
// memory sees the guest's code, any number of them work, and the debug
// registers stay the guest's own.
Status KvmVcpu::SetDebug(const DebugConfig& config) {
  RemoveBreakpoints();
  debug_ = config;
  debug_resuming_ = true;
  step_over_ = false;
  return Status();
}

// KVM_SET_GUEST_DEBUG before each KVM_RUN that needs it (api.rst): KVM adds
// TF only while RIP is where the call found it, so a step is set up anew
// each time. `step` forces a single step (RunSlice).
Status KvmVcpu::ApplyDebug(bool step) {
  const bool debugging = step || debug_.single_step || !debug_.breakpoints.empty();
  const bool step_to_breakpoints = stepped_breakpoints_ && !debug_.breakpoints.empty();
  if (!debugging && debug_control_ == 0) return Status();
  if (debug_resuming_) {
    // Resuming at a breakpoint runs its instruction first, as the
    // interpreter does: one step with the debug registers off.
    debug_resuming_ = false;
    if (!debug_.breakpoints.empty()) {
      const CpuState s = GetState();
      uint64_t linear = s.seg[x86::kCs].base + s.rip;
      if (x86::ModeOf(s) != x86::CpuMode::kLong64) linear &= 0xFFFFFFFFull;
      step_over_ = IsBreakpoint(linear);
    }
  }
  kvm_guest_debug dbg{};
  const bool breakpoints = !step && !step_over_ && !step_to_breakpoints && !debug_.breakpoints.empty();
  if (breakpoints) {
    if (planted_.empty()) PlantBreakpoints();
  } else {
    RemoveBreakpoints();
  }
  if (debugging) {
    dbg.control = KVM_GUESTDBG_ENABLE;
    if (step || debug_.single_step || step_over_ || step_to_breakpoints) dbg.control |= KVM_GUESTDBG_SINGLESTEP;
    if (breakpoints) dbg.control |= KVM_GUESTDBG_USE_SW_BP;
  }
  if (dbg.control == debug_control_ && !(dbg.control & KVM_GUESTDBG_SINGLESTEP)) return Status();
  if (dirty_) {  // KVM reads RIP and RFLAGS for the step: give it ours first
    if (Status s = PushState(); !s.ok()) return s;
  }
  if (Ioctl(vcpu_.get(), KVM_SET_GUEST_DEBUG, &dbg) < 0) return Status::Error(ErrnoMessage("KVM_SET_GUEST_DEBUG"));
  debug_control_ = dbg.control;
  return Status();
}

// Each breakpoint's linear address through the guest's page tables now;
// one not mapped now is not planted (it cannot be reached before a stop).
void KvmVcpu::PlantBreakpoints() {
  const CpuState s = GetState();
  hw::GuestMemory& memory = board_.memory();
  auto reader = [&memory](uint64_t a, void* out, size_t n) { return memory.ReadPhys(a, out, n); };
  static constexpr uint8_t kInt3 = 0xCC;
  for (uint64_t linear : debug_.breakpoints) {
    std::optional<uint64_t> gpa = x86::LinearToPhysical(s, linear, reader);
    Planted p{linear, 0, 0};
    if (!gpa || !memory.ReadPhys(*gpa, &p.saved, 1) || !memory.WritePhys(*gpa, &kInt3, 1)) continue;
    p.gpa = *gpa;
    planted_.push_back(p);
  }
}

void KvmVcpu::RemoveBreakpoints() {
  for (auto p = planted_.rbegin(); p != planted_.rend(); ++p) board_.memory().WritePhys(p->gpa, &p->saved, 1);
  planted_.clear();
}

RunOutcome KvmVcpu::RunSlice(uint64_t budget) {
  slicing_ = true;
  RunOutcome outcome = StepSlice(budget);
  slicing_ = false;
  return outcome;
}

RunOutcome KvmVcpu::StepSlice(uint64_t budget) {
  using Kind = RunOutcome::Kind;
  if (board_.stop_requested()) return RunOutcome{Kind::kBoardStop, ""};
  for (uint64_t done = 0; done < budget;) {
    if (UpdateStuck()) {
      if (board_.AllCpusStuck()) return Failure(Kind::kHalted, "vCPU halted with interrupts disabled");
      return RunOutcome{Kind::kSliceDone, "", true};
    }
    if (halted_) {
      if (!socket_.HasPendingInterrupt() && !socket_.HasPendingNmi()) return RunOutcome{Kind::kSliceDone, "", true};
      halted_ = false;
    }
    if (dirty_) {
      if (Status s = PushState(); !s.ok()) return Failure(Kind::kError, "kvm: cannot load the vCPU state: " + s.message());
    }
    if (Status s = InjectInterrupt(); !s.ok()) return Failure(Kind::kError, "kvm: " + s.message());
    if (Status s = ApplyDebug(true); !s.ok()) return Failure(Kind::kError, "kvm: " + s.message());
    int err = 0;
    if (EnterGuest(&err) < 0) {
      if (err == EINTR || err == EAGAIN) continue;
      return Failure(Kind::kError, ErrnoMessage("kvm: KVM_RUN", err));
    }
    std::optional<RunOutcome> end = HandleExit();
    if (!end) continue;  // I/O done, or an interrupt window: the step goes on
    if (end->kind != Kind::kDebug) {
      CompletePendingIo();
      return *end;
    }
    ++steps_;
    // The step ends where the board asked to stop (the debug-exit port's
    // OUT completed), as the interpreter's slice does.
    if (board_.stop_requested()) return RunOutcome{Kind::kBoardStop, ""};
    if (halted_) {
      // A HLT with an interrupt already waiting does not stop: the step
      // goes on through its delivery, as the interpreter's HLT does.
      const bool wakes = (InterruptsEnabled() && socket_.HasPendingInterrupt()) || socket_.HasPendingNmi();
      if (!wakes) return RunOutcome{Kind::kSliceDone, "", true};
      continue;
    }
    ++done;
  }
  CompletePendingIo();
  return RunOutcome{Kind::kSliceDone, ""};
}

// KVM finishes an I/O instruction (stores an IN result, advances RIP) on the
// next KVM_RUN. Before handing the state out, do that KVM_RUN with
// immediate_exit set, which completes the instruction and runs nothing more
// (api.rst, KVM_EXIT_IO note). A string instruction may exit again for its
// next chunk; those exits are served too.
void KvmVcpu::CompletePendingIo() {
  for (int i = 0; io_pending_ && i < 4096; ++i) {
    io_pending_ = false;
    if (dirty_) return;  // a new state replaces the unfinished instruction
    run_->immediate_exit = 1;
    int r = ioctl(vcpu_.get(), KVM_RUN, 0);
    run_->immediate_exit = 0;
    state_valid_ = false;
    if (r == 0 && run_->exit_reason == KVM_EXIT_IO) {
      io_pending_ = true;
      HandlePio();
    } else if (r == 0 && run_->exit_reason == KVM_EXIT_MMIO) {
      io_pending_ = true;
      HandleMmio();
    }
  }
}

void KvmVcpu::HandlePio() {
  auto& io = run_->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    if (io.direction == KVM_EXIT_IO_OUT) {
      uint64_t value = 0;
      std::memcpy(&value, data, io.size);
      socket_.PioWrite(io.port, io.size, value);
    } else {
      uint64_t value = socket_.PioRead(io.port, io.size);
      std::memcpy(data, &value, io.size);
    }
  }
}

// Reads of ROM (and of read-only shadow RAM) never exit: its slot is mapped
// read-only; a write does, and is dropped here as the ROM chip or the PAM
// ignores it, instead of reaching the MMIO bus as an access that hits no device.
bool KvmVcpu::IsRom(uint64_t gpa) const {
  const hw::MemoryRegion* region = board_.memory_map().Find(gpa);
  return region && region->kind != hw::RegionKind::kRam;
}

void KvmVcpu::HandleMmio() {
  auto& mmio = run_->mmio;
  unsigned len = std::min<unsigned>(mmio.len, 8);
  bool whole = len == 1 || len == 2 || len == 4 || len == 8;
  if (mmio.is_write) {
    // KVM splits accesses at page boundaries and regions are page-aligned,
    // so one exit never straddles the edge of a ROM region.
    if (IsRom(mmio.phys_addr)) return;
    if (whole) {
      uint64_t value = 0;
      std::memcpy(&value, mmio.data, len);
      socket_.MmioWrite(mmio.phys_addr, len, value);
    } else {
      for (unsigned i = 0; i < len; ++i) socket_.MmioWrite(mmio.phys_addr + i, 1, mmio.data[i]);
    }
  } else {
    if (whole) {
      uint64_t value = socket_.MmioRead(mmio.phys_addr, len);
      std::memcpy(mmio.data, &value, len);
    } else {
      for (unsigned i = 0; i < len; ++i) {
        mmio.data[i] = static_cast<uint8_t>(socket_.MmioRead(mmio.phys_addr + i, 1));
      }
    }
  }
}

std::optional<RunOutcome> KvmVcpu::DebugStop(uint32_t exception) {
  // An INT3 of the guest's own (not one planted): KVM hands every #BP to
  // us while software breakpoints are on, so give it to the guest (RIP is
  // at the INT3).
  if (exception == 3 && std::none_of(planted_.begin(), planted_.end(), [this](const Planted& p) {
        return p.linear == run_->debug.arch.pc;
      })) {
    kvm_guest_debug dbg{};
    dbg.control = debug_control_ | KVM_GUESTDBG_INJECT_BP;
    if (Ioctl(vcpu_.get(), KVM_SET_GUEST_DEBUG, &dbg) < 0) {
      return Failure(RunOutcome::Kind::kError, ErrnoMessage("kvm: KVM_SET_GUEST_DEBUG (giving the guest its #BP)"));
    }
    return std::nullopt;
  }
  // With single-stepping on, KVM takes every #DB: the guest's own TF and
  // debug-register traps are not delivered meanwhile.
  step_over_ = false;
  const bool stop = slicing_ || debug_.single_step || exception == 3 ||
                    (stepped_breakpoints_ && exception == 1 && IsBreakpoint(run_->debug.arch.pc));
  if (!stop) return std::nullopt;  // stepped off a breakpoint, or not at one yet
  return RunOutcome{RunOutcome::Kind::kDebug, ""};
}

std::optional<RunOutcome> KvmVcpu::HandleExit() {
  using Kind = RunOutcome::Kind;
  char buf[256];
  switch (run_->exit_reason) {
    case KVM_EXIT_IO:
      io_pending_ = true;
      HandlePio();
      return std::nullopt;
    case KVM_EXIT_MMIO:
      io_pending_ = true;
      HandleMmio();
      return std::nullopt;
    case KVM_EXIT_HLT:
      halted_ = true;
      // KVM completes the HLT and reports it instead of the step's #DB.
      if (!(debug_control_ & KVM_GUESTDBG_SINGLESTEP)) return std::nullopt;
      return DebugStop(0);
    case KVM_EXIT_DEBUG:
      return DebugStop(run_->debug.arch.exception);
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_INTR:
      return std::nullopt;
    case KVM_EXIT_SHUTDOWN:
      return Failure(Kind::kTripleFault, "triple fault (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_INTERNAL_ERROR: {
      auto& ie = run_->internal;
      std::string what = "kvm: internal error: " + std::string(InternalErrorName(ie.suberror)) +
                         " (suberror " + std::to_string(ie.suberror) + ")";
      for (uint32_t i = 0; i < ie.ndata && i < std::size(ie.data); ++i) {
        std::snprintf(buf, sizeof buf, "%s0x%llx", i ? " " : "; data ", static_cast<unsigned long long>(ie.data[i]));
        what += buf;
      }
      return Failure(Kind::kError, what);
    }
    case KVM_EXIT_FAIL_ENTRY:
      std::snprintf(buf, sizeof buf, "kvm: the CPU refused to enter the guest (hardware entry failure reason 0x%llx)",
                    static_cast<unsigned long long>(run_->fail_entry.hardware_entry_failure_reason));
      return Failure(Kind::kError, buf);
    default:
      std::snprintf(buf, sizeof buf, "kvm: unhandled exit reason %u (KVM_EXIT_%s)", run_->exit_reason,
                    ExitName(run_->exit_reason));
      return Failure(Kind::kError, buf);
  }
}

}  // namespace

Availability Probe() {
  Result<Fd> kvm = OpenKvm();
  if (!kvm.ok()) return Availability{false, kvm.message()};
  // The kvm_pvm module (PVM) offers /dev/kvm without VMX/SVM: it emulates
  // guests that are not PVM-aware, slowly, and fails some legacy-mode code.
  if (access("/sys/module/kvm_pvm", F_OK) == 0) {
    Availability a{true, "host KVM is kvm_pvm: non-PVM guests run emulated (slow; some 32-bit code fails)"};
    a.degraded = true;
    return a;
  }
  return Availability{true, ""};
}

Result<std::unique_ptr<Machine>> CreateMachine(hw::Board& board) {
  Result<Fd> kvm = OpenKvm();
  if (!kvm.ok()) return kvm.status();
  Fd vm(Ioctl(kvm->get(), KVM_CREATE_VM, 0));
  if (vm.get() < 0) return Status::Error(ErrnoMessage("KVM_CREATE_VM"));
  if (Ioctl(vm.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(kTssAddr)) < 0) {
    return Status::Error(ErrnoMessage("KVM_SET_TSS_ADDR"));
  }
  if (Ioctl(kvm->get(), KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
    uint64_t addr = kIdentityMapAddr;
    if (Ioctl(vm.get(), KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
      return Status::Error(ErrnoMessage("KVM_SET_IDENTITY_MAP_ADDR"));
    }
  }

  // One memory slot per region; ROM read-only, so guest writes to it exit as
  // MMIO and reach the board's MMIO bus. The slots follow PAM changes.
  auto slots = std::make_unique<KvmMemorySlots>(vm.get(), board.memory(),
                                                Ioctl(kvm->get(), KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS));
  if (Status s = slots->Sync(); !s.ok()) return s;

  int run_size = Ioctl(kvm->get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < static_cast<int>(sizeof(kvm_run))) {
    return Status::Error(ErrnoMessage("KVM_GET_VCPU_MMAP_SIZE"));
  }
  auto machine = std::make_unique<KvmMachine>(board, std::move(kvm.value()), std::move(vm), run_size, std::move(slots));
  machine->PrepareCpuid();
  return std::unique_ptr<Machine>(std::move(machine));
}

Result<std::unique_ptr<Vcpu>> KvmMachine::CreateVcpu(int index) {
  if (index < 0 || index >= board_.cpu_count()) {
    return Status::Error("vCPU " + std::to_string(index) + ": the board has " + std::to_string(board_.cpu_count()) +
                         " CPUs");
  }
  Fd vcpu(Ioctl(vm_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index)));
  if (vcpu.get() < 0) return Status::Error(ErrnoMessage("KVM_CREATE_VCPU"));
  void* run = mmap(nullptr, static_cast<size_t>(run_size_), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu.get(), 0);
  if (run == MAP_FAILED) return Status::Error(ErrnoMessage("mmap of the vCPU run area"));
  auto cpu = std::make_unique<KvmVcpu>(*this, index, std::move(vcpu), static_cast<kvm_run*>(run),
                                       static_cast<size_t>(run_size_));
  if (Status s = cpu->Configure(); !s.ok()) return s;
  return std::unique_ptr<Vcpu>(std::move(cpu));
}

}  // namespace tandem::accel::kvm
