// The differential harness: native runner (asmjit wrapper in an RWX page),
// guest runner (a 16 MiB board in 64-bit long mode on the interpreter),
// input generation, comparison and the per-form summary.
#include "tests/diff/diff_harness.h"

#include <Zydis/Zydis.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "accel/interp/interp_engine.h"
#include "hw/board.h"
#include "hw/io_device.h"

namespace tandem::difftest {

namespace x = asmjit::x86;

// ---------------------------------------------------------------- random

namespace {
uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& w : s_) w = SplitMix(seed);
}

uint64_t Rng::Next() {
  uint64_t r = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return r;
}

// 16 bytes of lanes: random bits, or float/double edge values
// (zeros, ones, infinities, NaNs, denormals, extremes) and small integers.
void RandomXmm(Rng& rng, std::array<uint8_t, 16>& x) {
  const uint32_t f32[] = {0, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                          0x7FA00000, 0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x4B000000, 0x4F000000, 0xCF000000, 0x3F000000};
  const uint64_t f64[] = {0, 0x8000000000000000ull, 0x3FF0000000000000ull, 0xBFF0000000000000ull, 0x7FF0000000000000ull,
                          0xFFF0000000000000ull, 0x7FF8000000000000ull, 0x7FF4000000000000ull, 0x0000000000000001ull,
                          0x7FEFFFFFFFFFFFFFull, 0x41E0000000000000ull, 0xC3E0000000000000ull, 0x3FE0000000000000ull};
  switch (rng.Below(4)) {
    case 0:
      for (int i = 0; i < 4; ++i) {
        uint32_t v = rng.Below(2) ? f32[rng.Below(std::size(f32))] : static_cast<uint32_t>(rng.Next());
        std::memcpy(&x[i * 4], &v, 4);
      }
      break;
    case 1:
      for (int i = 0; i < 2; ++i) {
        uint64_t v = rng.Below(2) ? f64[rng.Below(std::size(f64))] : rng.Next();
        std::memcpy(&x[i * 8], &v, 8);
      }
      break;
    case 2:
      for (int i = 0; i < 2; ++i) {
        uint64_t v = RandomValue(rng);
        std::memcpy(&x[i * 8], &v, 8);
      }
      break;
    default:
      for (auto& b : x) b = static_cast<uint8_t>(rng.Next());
      break;
  }
}

// An x87 state: FCW with every exception masked and random precision and
// rounding; random TOP, condition codes and tags; registers rich in edge
// encodings (zeros, infinities, NaNs, denormals, unnormals, integers).
void RandomX87(Rng& rng, x86::FxState& fx) {
  const uint16_t pc[] = {0, 2, 3};
  fx.fcw = static_cast<uint16_t>(0x037F & ~0x0F00) | static_cast<uint16_t>(pc[rng.Below(3)] << 8) |
           static_cast<uint16_t>(rng.Below(4) << 10);
  if (rng.Below(2)) fx.fcw = 0x037F;
  fx.fsw = static_cast<uint16_t>(rng.Below(8) << 11) | static_cast<uint16_t>(rng.Next() & 0x4700);
  if (rng.Below(4) == 0) fx.fsw |= static_cast<uint16_t>(rng.Next() & 0x3F);
  fx.ftw = static_cast<uint8_t>(rng.Below(3) == 0 ? rng.Next() : 0xFF);
  for (auto& r : fx.st) {
    r.fill(0);
    uint64_t m = rng.Next();
    uint16_t e = static_cast<uint16_t>(rng.Next());
    switch (rng.Below(10)) {
      case 0: m = 0; e &= 0x8000; break;                                   // +-0
      case 1: m = 1ull << 63; e = (e & 0x8000) | 0x7FFF; break;            // +-inf
      case 2: m |= 3ull << 62; e = (e & 0x8000) | 0x7FFF; break;           // QNaN
      case 3: m = (m & ~(3ull << 62)) | (1ull << 63) | 1; e = (e & 0x8000) | 0x7FFF; break;  // SNaN
      case 4: m &= ~(1ull << 63); e &= 0x8000; break;                      // denormal
      case 5:
        if (rng.Below(8) == 0) {  // unnormal (an invalid encoding), now and then
          m &= ~(1ull << 63);
          e = (e & 0x8000) | (1 + rng.Below(0x7FFE));
        } else {  // |x| >= 2^63: FIST overflow, FPTAN/FSIN out of range, FPREM partial
          m |= 1ull << 63;
          e = (e & 0x8000) | static_cast<uint16_t>(0x403E + rng.Below(200));
        }
        break;
      case 6: {                                                            // small integer
        long double v = static_cast<long double>(static_cast<int64_t>(rng.Below(2001)) - 1000);
        std::memcpy(r.data(), &v, 10);
        continue;
      }
      default: m |= 1ull << 63; e = (e & 0x8000) | static_cast<uint16_t>(0x3FFF - 70 + rng.Below(140)); break;
    }
    std::memcpy(r.data(), &m, 8);
    std::memcpy(r.data() + 8, &e, 2);
  }
}

uint64_t RandomValue(Rng& rng) {
  uint64_t pick = rng.Below(16);
  if (pick < 7) return rng.Next();
  if (pick == 14) return rng.Below(140);
  if (pick == 15) return 0 - rng.Below(140);
  unsigned bits = 8u << rng.Below(4);
  uint64_t m = WidthMask(bits);
  uint64_t sign = 1ull << (bits - 1);
  const uint64_t edges[] = {0, 1, 2, m, m - 1, sign - 1, sign, sign + 1, 0x0F, 0x10, 0x7F, 0x80, 0xFF, 1ull << rng.Below(bits), rng.Next()};
  uint64_t v = edges[rng.Below(std::size(edges))] & m;
  if (rng.Next() & 1) v |= rng.Next() & ~m;  // junk above the operand
  return v;
}

// ---------------------------------------------------------------- operands

namespace {
// The buffer straddles a page boundary at kPageSplit, so that memory operands
// near the middle cross pages (the guest maps the two pages apart).
constexpr uint64_t kPageSplit = 520;

uint8_t* HostPages() {
  static uint8_t* pages = [] {
    void* p = mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap for the diff buffer failed");
    return static_cast<uint8_t*>(p);
  }();
  return pages;
}
uint8_t* HostBuffer() { return HostPages() + 4096 - kPageSplit; }
}  // namespace

uint64_t MemBase() { return reinterpret_cast<uint64_t>(HostBuffer()); }

asmjit::Operand Opnd::ToAsm() const {
  if (mem) return x::ptr(x::rbx, kMemDisp, bits / 8);
  switch (bits) {
    case 8: return high8 ? asmjit::Operand(x::gpb_hi(reg)) : asmjit::Operand(x::gpb_lo(reg));
    case 16: return x::gpw(reg);
    case 32: return x::gpd(reg);
    default: return x::gpq(reg);
  }
}

std::string Opnd::Name() const { return mem ? "m" + std::to_string(bits) : "r" + std::to_string(bits); }

size_t MemOffset(const Case& c) { return c.in.gpr[x86::kRbx] + kMemDisp - MemBase(); }

uint64_t Get(const Case& c, const Opnd& o) {
  if (o.mem) {
    uint64_t v = 0;
    std::memcpy(&v, &c.mem[MemOffset(c)], o.bits / 8);
    return v;
  }
  if (o.high8) return (c.in.gpr[o.reg] >> 8) & 0xFF;
  return c.in.gpr[o.reg] & WidthMask(o.bits);
}

void Set(Case& c, const Opnd& o, uint64_t v) {
  if (o.mem) {
    std::memcpy(&c.mem[MemOffset(c)], &v, o.bits / 8);
    return;
  }
  uint64_t& r = c.in.gpr[o.reg];
  if (o.high8) {
    r = (r & ~0xFF00ull) | ((v & 0xFF) << 8);
  } else {
    uint64_t m = WidthMask(o.bits);
    r = (r & ~m) | (v & m);
  }
}

// ---------------------------------------------------------------- assembly

namespace {
class ThrowingErrorHandler : public asmjit::ErrorHandler {
 public:
  void handleError(asmjit::Error err, const char* message, asmjit::BaseEmitter*) override {
    throw std::runtime_error(std::string("asmjit: ") + message);
  }
};
}  // namespace

std::vector<uint8_t> Assemble(const std::function<void(x::Assembler&)>& f) {
  ThrowingErrorHandler handler;
  asmjit::CodeHolder code;
  code.init(asmjit::Environment(asmjit::Arch::kX64));
  code.setErrorHandler(&handler);
  x::Assembler a(&code);
  f(a);
  const asmjit::CodeBuffer& buf = code.textSection()->buffer();
  return std::vector<uint8_t>(buf.data(), buf.data() + buf.size());
}

std::string Disassemble(const std::vector<uint8_t>& bytes, bool compat32) {
  ZydisDisassembledInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(compat32 ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LONG_64, 0, bytes.data(), bytes.size(), &insn))) {
    return "(undecodable)";
  }
  std::string hex;
  for (size_t i = 0; i < insn.info.length && i < bytes.size(); ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02X", bytes[i]);
    hex += b;
  }
  return std::string(insn.text) + "  [" + hex + "]";
}

// ---------------------------------------------------------------- native

namespace {

// Runs instruction bytes on the host between a prologue that loads Regs
// (except RSP) and RFLAGS and an epilogue that stores them back.
class NativeRunner {
 public:
  NativeRunner() {
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of an RWX page failed");
    page_ = static_cast<uint8_t*>(p);
    prologue_ = Assemble([](x::Assembler& a) {
      for (auto r : {x::rbx, x::rbp, x::r12, x::r13, x::r14, x::r15}) a.push(r);
      // The host's x87/SSE state, restored at the end: 512 bytes, 16-aligned.
      a.mov(x::rbp, x::rsp);
      a.sub(x::rsp, 512 + 16);
      a.and_(x::rsp, -16);
      a.fxsave(x::ptr(x::rsp));
      a.push(x::rbp);
      a.push(x::rdi);
      a.mov(x::rax, x::rdi);
      a.fxrstor(x::ptr(x::rax, 144));
      a.push(x::qword_ptr(x::rax, 128));
      a.popfq();
      for (int i = 1; i < 16; ++i) {
        if (i != x86::kRsp) a.mov(x::gpq(i), x::qword_ptr(x::rax, i * 8));
      }
      a.mov(x::rax, x::qword_ptr(x::rax, 0));
    });
    epilogue_ = Assemble([](x::Assembler& a) {
      a.pushfq();
      a.push(x::rax);
      a.mov(x::rax, x::qword_ptr(x::rsp, 16));
      for (int i = 1; i < 16; ++i) {
        if (i != x86::kRsp) a.mov(x::qword_ptr(x::rax, i * 8), x::gpq(i));
      }
      a.pop(x::qword_ptr(x::rax, 0));
      a.pop(x::qword_ptr(x::rax, 128));
      a.fxsave(x::ptr(x::rax, 144));
      a.pop(x::rdi);
      a.pop(x::rbp);
      a.fxrstor(x::ptr(x::rsp));
      a.mov(x::rsp, x::rbp);
      a.cld();
      for (auto r : {x::r15, x::r14, x::r13, x::r12, x::rbp, x::rbx}) a.pop(r);
      a.ret();
    });
  }
  ~NativeRunner() { munmap(page_, kPage); }

  void Run(const std::vector<uint8_t>& insn, const Case& c, Outcome& out) {
    if (insn != loaded_) {
      uint8_t* p = page_;
      std::memcpy(p, prologue_.data(), prologue_.size());
      p += prologue_.size();
      std::memcpy(p, insn.data(), insn.size());
      p += insn.size();
      std::memcpy(p, epilogue_.data(), epilogue_.size());
      loaded_ = insn;
    }
    out.regs = c.in;
    std::memcpy(HostBuffer(), c.mem.data(), kMemSize);
    reinterpret_cast<void (*)(Regs*)>(page_)(&out.regs);
    std::memcpy(out.mem.data(), HostBuffer(), kMemSize);
  }

 private:
  static constexpr size_t kPage = 4096;
  uint8_t* page_ = nullptr;
  std::vector<uint8_t> prologue_, epilogue_, loaded_;
};

// Runs instruction bytes natively in 32-bit compatibility mode: a 64-bit
// wrapper in a page below 4 GiB loads the registers, switches to a stack
// below 4 GiB and far-calls the bytes in Linux's 32-bit user code segment
// (__USER32_CS); they return with RETF. Only the low 32 bits of RAX..RDI
// are meaningful afterwards.
class CompatNativeRunner {
 public:
  explicit CompatNativeRunner(uint16_t code32_selector = kLinuxUser32Cs) {
    void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of a low RWX page failed");
    page_ = static_cast<uint8_t*>(p);
    ThrowingErrorHandler handler;
    asmjit::CodeHolder code;
    code.init(asmjit::Environment(asmjit::Arch::kX64));
    code.setErrorHandler(&handler);
    x::Assembler a(&code);
    asmjit::Label saved_rsp = a.newLabel(), state_ptr = a.newLabel(), stack_top = a.newLabel(),
                  far_ptr = a.newLabel(), code32 = a.newLabel();
    for (auto r : {x::rbx, x::rbp, x::r12, x::r13, x::r14, x::r15}) a.push(r);
    a.mov(x::ptr(saved_rsp), x::rsp);
    a.mov(x::ptr(state_ptr), x::rdi);
    a.mov(x::rsp, x::ptr(stack_top));
    a.mov(x::rax, x::rdi);
    a.push(x::qword_ptr(x::rax, 128));
    a.popfq();
    for (int i = 1; i < 16; ++i) {
      if (i != x86::kRsp) a.mov(x::gpq(i), x::qword_ptr(x::rax, i * 8));
    }
    a.mov(x::rax, x::qword_ptr(x::rax, 0));
    a.lcall(x::ptr(far_ptr, 0, 6));
    a.pushfq();
    a.push(x::rax);
    a.mov(x::rax, x::ptr(state_ptr));
    for (int i = 1; i < 16; ++i) {
      if (i != x86::kRsp) a.mov(x::qword_ptr(x::rax, i * 8), x::gpq(i));
    }
    a.pop(x::qword_ptr(x::rax, 0));
    a.pop(x::qword_ptr(x::rax, 128));
    a.mov(x::rsp, x::ptr(saved_rsp));
    a.cld();
    for (auto r : {x::r15, x::r14, x::r13, x::r12, x::rbp, x::rbx}) a.pop(r);
    a.ret();
    a.align(asmjit::AlignMode::kData, 8);
    a.bind(saved_rsp);
    a.dq(0);
    a.bind(state_ptr);
    a.dq(0);
    a.bind(stack_top);
    a.dq(reinterpret_cast<uint64_t>(page_) + 2 * kPage - 64);
    a.bind(far_ptr);
    a.dd(0);
    a.dw(code32_selector);
    a.align(asmjit::AlignMode::kData, 16);
    a.bind(code32);
    const asmjit::CodeBuffer& buf = code.textSection()->buffer();
    std::memcpy(page_, buf.data(), buf.size());
    code32_ = code.labelOffset(code32);
    uint32_t target = static_cast<uint32_t>(reinterpret_cast<uint64_t>(page_) + code32_);
    std::memcpy(page_ + code.labelOffset(far_ptr), &target, 4);
  }
  ~CompatNativeRunner() { munmap(page_, 2 * kPage); }

  void Run(const std::vector<uint8_t>& insn, const Case& c, Outcome& out) {
    std::memcpy(page_ + code32_, insn.data(), insn.size());
    page_[code32_ + insn.size()] = 0xCB;  // RETF
    out.regs = c.in;
    reinterpret_cast<void (*)(Regs*)>(page_)(&out.regs);
    out.mem = c.mem;
  }

 private:
  static constexpr size_t kPage = 4096;
  uint8_t* page_ = nullptr;
  size_t code32_ = 0;
};

}  // namespace

// The probe runs INC EAX through a CompatNativeRunner in a forked child:
// where the host kernel refuses the far call the child dies, not the tests.
HostSupport ProbeCompat32(uint16_t selector) {
  CompatNativeRunner runner(selector);  // built here: the child only copies bytes and calls
  Case c;
  c.in.gpr[x86::kRax] = 41;
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return {false, std::string("fork failed: ") + std::strerror(errno)};
  if (pid == 0) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    // A fault ends the child by its signal, also under ASan (whose handler
    // would turn it into an exit status).
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    alarm(10);
    Outcome out;
    runner.Run({0x40}, c, out);
    _exit((out.regs.gpr[x86::kRax] & 0xFFFFFFFF) == 42 ? 0 : 3);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  char sel[8];
  std::snprintf(sel, sizeof sel, "%#x", selector);
  const std::string cause = std::string("this host kernel refuses 32-bit user code: a far call to selector ") + sel;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, ""};
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return {false, cause + " does not come back"};
  if (WIFSIGNALED(status)) {
    const char* sig = sigabbrev_np(WTERMSIG(status));
    return {false, cause + " faults (SIG" + (sig ? sig : "?") + " in a probe child)"};
  }
  return {false, cause + " runs 32-bit code wrongly (probe child exit status " + std::to_string(WEXITSTATUS(status)) + ")"};
}

const HostSupport& HostCompat32() {
  static const HostSupport support = ProbeCompat32(kLinuxUser32Cs);
  return support;
}

namespace {

// ---------------------------------------------------------------- guest

// Guest physical layout.
constexpr uint64_t kPml4 = 0x1000;          // page tables from here (bump allocated)
constexpr uint64_t kTablesEnd = 0x9000;
constexpr uint64_t kStackTop = 0x9FF0;
constexpr uint64_t kGdt = 0xA000;
constexpr uint64_t kIdt = 0xB000;
constexpr uint64_t kStubs = 0xC000;         // 32 exception stubs of 8 bytes
constexpr uint64_t kCodeBase = 0x10000;     // code slots
constexpr uint64_t kSlotSize = 32;
constexpr uint64_t kSlots = 0x80000 / kSlotSize;
constexpr uint64_t kBufferPage0 = 0x100000;  // the buffer's first page
constexpr uint64_t kBufferPage1 = 0x108000;  // its second page, not adjacent
constexpr uint8_t kDonePort = 0xB0;         // OUT here: the instruction completed
constexpr uint8_t kFaultPort = 0xB1;        // OUT here with AL = vector: it faulted
constexpr int kDoneStatus = 0x100;
constexpr int kFaultStatus = 0x200;

class StopDevice final : public hw::IoDevice {
 public:
  explicit StopDevice(hw::Board& board) : board_(board) {}
  uint64_t Read(uint64_t, unsigned) override { return 0xFF; }
  void Write(uint64_t offset, unsigned, uint64_t value) override {
    board_.RequestExit(offset == 0 ? kDoneStatus : kFaultStatus | static_cast<int>(value & 0xFF));
  }

 private:
  hw::Board& board_;
};

class GuestRunner {
 public:
  static constexpr uint32_t kCode32 = 0xB | x86::Segment::kS | x86::Segment::kP | x86::Segment::kDb | x86::Segment::kG;

  GuestRunner() {
    hw::BoardConfig config;
    config.ram_size = 16ull << 20;
    auto board = hw::Board::Create(config);
    if (!board.ok()) throw std::runtime_error("board: " + board.message());
    board_ = std::move(*board);
    stop_ = std::make_unique<StopDevice>(*board_);
    if (!board_->pio().Register(kDonePort, 2, stop_.get(), "diff-stop").ok()) throw std::runtime_error("stop port taken");

    // Page tables: identity for the first MiB, the buffer at its host address.
    for (uint64_t pa = 0; pa < 0x100000; pa += 4096) MapPage(pa, pa);
    MapPage(reinterpret_cast<uint64_t>(HostPages()), kBufferPage0);
    MapPage(reinterpret_cast<uint64_t>(HostPages()) + 4096, kBufferPage1);

    // GDT: null, 64-bit code (0x08), data (0x10), 32-bit code (0x18).
    constexpr uint32_t kCode64 = 0xB | x86::Segment::kS | x86::Segment::kP | x86::Segment::kL | x86::Segment::kG;
    constexpr uint32_t kData = 0x3 | x86::Segment::kS | x86::Segment::kP | x86::Segment::kDb | x86::Segment::kG;
    W(kGdt, 8, 0);
    W(kGdt + 8, 8, Descriptor(kCode64));
    W(kGdt + 16, 8, Descriptor(kData));
    W(kGdt + 24, 8, Descriptor(kCode32));
    // IDT: 64-bit interrupt gates to stubs "mov al, v; out kFaultPort, al; hlt".
    for (uint64_t v = 0; v < 32; ++v) {
      uint64_t stub = kStubs + v * 8;
      uint8_t code[] = {0xB0, static_cast<uint8_t>(v), 0xE6, kFaultPort, 0xF4};
      board_->memory().WritePhys(stub, code, sizeof code);
      uint64_t lo = (stub & 0xFFFF) | (uint64_t{0x08} << 16) | (uint64_t{0x8E} << 40) | ((stub >> 16 & 0xFFFF) << 48);
      W(kIdt + v * 16, 8, lo);
      W(kIdt + v * 16 + 8, 8, stub >> 32);
    }

    base_ = x86::Flat32State(kCodeBase);
    for (auto& seg : base_.seg) seg = x86::Segment{0x10, 0, 0xFFFFFFFF, kData};
    base_.seg[x86::kCs] = x86::Segment{0x08, 0, 0xFFFFFFFF, kCode64};
    base_.gdtr = {kGdt, 31};
    compat_cs_ = x86::Segment{0x18, 0, 0xFFFFFFFF, kCode32};
    base_.idtr = {kIdt, 32 * 16 - 1};
    base_.cr3 = kPml4;
    base_.cr4 |= x86::kCr4Pae | x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt;
    base_.cr0 |= x86::kCr0Mp;
    base_.cr0 |= x86::kCr0Pg;
    base_.msr.efer = x86::kEferLme | x86::kEferLma;
    NewEngine();
  }

  // Places bytes (plus "out kDonePort, al") in a code slot; identical bytes
  // reuse the slot, new bytes take a fresh one so no decode is ever stale.
  uint64_t Place(const std::vector<uint8_t>& bytes) {
    if (bytes == placed_) return rip_;
    if (bytes.size() + 3 > kSlotSize) throw std::runtime_error("instruction too long for a slot");
    if (next_slot_ == kSlots) NewEngine();
    rip_ = kCodeBase + next_slot_++ * kSlotSize;
    std::vector<uint8_t> code = bytes;
    code.insert(code.end(), {0xE6, kDonePort, 0xF4});
    board_->memory().WritePhys(rip_, code.data(), code.size());
    placed_ = bytes;
    return rip_;
  }

  void Run(const std::vector<uint8_t>& bytes, const Case& c, Outcome& out, bool compat32 = false) {
    uint64_t rip = Place(bytes);
    x86::CpuState s = base_;
    if (compat32) s.seg[x86::kCs] = compat_cs_;
    s.gpr = c.in.gpr;
    s.gpr[x86::kRsp] = kStackTop;
    s.rflags = c.in.rflags | c.guest_system_flags;
    s.fx = c.in.fx;
    s.rip = rip;
    board_->memory().WritePhys(kBufferPage0 + 4096 - kPageSplit, c.mem.data(), kPageSplit);
    board_->memory().WritePhys(kBufferPage1, c.mem.data() + kPageSplit, kMemSize - kPageSplit);
    board_->Reset();
    engine_->SetState(s);
    const uint64_t in_blocks = accel::interp::InstructionsInJitBlocks(*engine_);
    accel::RunOutcome r = engine_->Run();
    out.in_jit_block = accel::interp::InstructionsInJitBlocks(*engine_) > in_blocks;
    x86::CpuState e = engine_->GetState();
    out.regs.gpr = e.gpr;
    out.regs.rflags = e.rflags;
    out.regs.fx = e.fx;
    out.rip = e.rip;
    out.vector = -1;
    out.error.clear();
    board_->memory().ReadPhys(kBufferPage0 + 4096 - kPageSplit, out.mem.data(), kPageSplit);
    board_->memory().ReadPhys(kBufferPage1, out.mem.data() + kPageSplit, kMemSize - kPageSplit);
    if (r.kind != accel::RunOutcome::Kind::kBoardStop) {
      out.error = r.message.empty() ? "engine stopped" : r.message.substr(0, r.message.find('\n'));
    } else if (board_->exit_status() >= kFaultStatus) {
      out.vector = board_->exit_status() - kFaultStatus;
      // The stub runs on the interrupt frame: [rsp] = RIP, after an error code
      // for the vectors that push one.
      const bool error_code = (out.vector == 8 || (out.vector >= 10 && out.vector <= 14) || out.vector == 17);
      board_->memory().ReadPhys(e.gpr[x86::kRsp] + (error_code ? 8 : 0), &out.fault_rip, 8);
    } else if (board_->exit_status() != kDoneStatus) {
      out.error = "unexpected exit status " + std::to_string(board_->exit_status());
    } else if (e.rip != rip + bytes.size() + 2) {
      char b[96];
      std::snprintf(b, sizeof b, "RIP after the instruction is %#" PRIx64 ", expected %#" PRIx64, e.rip - 2,
                    rip + bytes.size());
      out.error = b;
    }
  }

  uint64_t last_rip() const { return rip_; }

 private:
  void NewEngine() {
    engine_.reset();
    auto machine = accel::interp::CreateMachine(*board_, GuestUsesJit());
    if (!machine.ok()) throw std::runtime_error("interp engine: " + machine.message());
    machine_ = std::move(*machine);
    auto vcpu = machine_->CreateVcpu(0);
    if (!vcpu.ok()) throw std::runtime_error("interp engine: " + vcpu.message());
    engine_ = std::move(*vcpu);
    next_slot_ = 0;
    placed_.clear();
  }
  void W(uint64_t pa, unsigned size, uint64_t v) { board_->memory().WritePhys(pa, &v, size); }
  uint64_t R(uint64_t pa) {
    uint64_t v = 0;
    board_->memory().ReadPhys(pa, &v, 8);
    return v;
  }
  static uint64_t Descriptor(uint32_t attrib) {
    return 0xFFFFull | (uint64_t{attrib & 0xFF} << 40) | (0xFull << 48) | (uint64_t{(attrib >> 12) & 0xF} << 52);
  }
  // 4-level mapping of one 4 KiB page, tables allocated after the PML4.
  void MapPage(uint64_t linear, uint64_t pa) {
    uint64_t table = kPml4;
    for (int shift = 39; shift > 12; shift -= 9) {
      uint64_t entry_pa = table + ((linear >> shift) & 511) * 8;
      uint64_t entry = R(entry_pa);
      if (!(entry & 1)) {
        next_table_ += 4096;
        if (next_table_ >= kTablesEnd) throw std::runtime_error("out of page-table pages");
        entry = next_table_ | 3;
        W(entry_pa, 8, entry);
      }
      table = entry & ~0xFFFull;
    }
    W(table + ((linear >> 12) & 511) * 8, 8, pa | 3);
  }

  std::unique_ptr<hw::Board> board_;
  std::unique_ptr<StopDevice> stop_;
  std::unique_ptr<accel::Machine> machine_;
  std::unique_ptr<accel::Vcpu> engine_;  // vCPU 0 of machine_
  x86::CpuState base_;
  x86::Segment compat_cs_;
  uint64_t next_table_ = kPml4;
  uint64_t next_slot_ = 0;
  uint64_t rip_ = 0;
  std::vector<uint8_t> placed_;
};

}  // namespace

bool GuestUsesJit() {
  static const bool jit = [] {
    const char* which = std::getenv("TANDEM_DIFF_ENGINE");
    return which && (std::string(which) == "jit" || std::string(which) == "jit32");
  }();
  return jit;
}

namespace {

GuestRunner& Guest() {
  static GuestRunner runner;
  return runner;
}
NativeRunner& Native() {
  static NativeRunner runner;
  return runner;
}
CompatNativeRunner& CompatNative() {
  static CompatNativeRunner runner;
  return runner;
}

// ---------------------------------------------------------------- reporting

const char* const kRegNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

std::string FlagString(uint64_t f) {
  std::string s;
  const std::pair<uint64_t, const char*> names[] = {{x86::kFlagOf, "OF"}, {x86::kFlagDf, "DF"}, {x86::kFlagSf, "SF"},
                                                    {x86::kFlagZf, "ZF"}, {x86::kFlagAf, "AF"}, {x86::kFlagPf, "PF"},
                                                    {x86::kFlagCf, "CF"}};
  for (auto [bit, name] : names) {
    if (f & bit) s += std::string(s.empty() ? "" : " ") + name;
  }
  return s.empty() ? "-" : s;
}

std::string XmmHex(const std::array<uint8_t, 16>& x) {
  char b[40];
  uint64_t lo, hi;
  std::memcpy(&lo, x.data(), 8);
  std::memcpy(&hi, x.data() + 8, 8);
  std::snprintf(b, sizeof b, "%016" PRIx64 "_%016" PRIx64, hi, lo);
  return b;
}

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

// RFLAGS bits outside the arithmetic flags and DF that the guest changed.
uint64_t SystemFlagsChanged(const Case& c, const Outcome& guest) {
  uint64_t expected = c.in.rflags | c.guest_system_flags | 2;
  return (guest.regs.rflags ^ expected) & ~(kArith | kDf) & 0x3FFFFF;
}

// The x87 state that differs: FCW, FSW (minus undefined condition codes),
// the abridged tags and the valid registers; "" when equal.
std::string X87Diff(const Check& check, const Outcome& native, const Outcome& guest) {
  const x86::FxState& n = native.regs.fx;
  const x86::FxState& g = guest.regs.fx;
  char b[160];
  std::string s;
  if (n.fcw != g.fcw) {
    std::snprintf(b, sizeof b, "    fcw: host %04x  interp %04x\n", n.fcw, g.fcw);
    s += b;
  }
  if ((n.fsw ^ g.fsw) & check.fsw_mask) {
    std::snprintf(b, sizeof b, "    fsw (compared %04x): host %04x  interp %04x\n", check.fsw_mask, n.fsw, g.fsw);
    s += b;
  }
  if (n.ftw != g.ftw) {
    std::snprintf(b, sizeof b, "    ftw (abridged): host %02x  interp %02x\n", n.ftw, g.ftw);
    s += b;
  }
  const int top = (n.fsw >> 11) & 7;
  for (int i = 0; i < 8; ++i) {
    if (!(n.ftw >> ((top + i) & 7) & 1)) continue;  // empty: contents do not matter
    if (std::memcmp(n.st[i].data(), g.st[i].data(), 10) != 0) {
      uint64_t hm, gm;
      uint16_t he, ge;
      std::memcpy(&hm, n.st[i].data(), 8);
      std::memcpy(&he, n.st[i].data() + 8, 2);
      std::memcpy(&gm, g.st[i].data(), 8);
      std::memcpy(&ge, g.st[i].data() + 8, 2);
      std::snprintf(b, sizeof b, "    st(%d): host %04x:%016" PRIx64 "  interp %04x:%016" PRIx64 "\n", i, he, hm, ge, gm);
      s += b;
    }
  }
  return s;
}

// The forms written as 32-bit code (BCD and the like) are mostly instructions the
// JIT leaves to the interpreter; every other case must have run in a block.
bool MissedTheJit(const Form& form, const Outcome& guest) {
  return GuestUsesJit() && !form.compat32 && !guest.in_jit_block;
}

std::string Describe(const Form& form, const std::vector<uint8_t>& bytes, const Case& c, const Check& check,
                     const Outcome& native, const Outcome& guest) {
  std::string s = "  " + form.name + ": " + Disassemble(bytes, form.compat32);
  if (form.compat32) s += " (32-bit code)";
  if (!form.guest_prefix.empty()) s += " (guest runs it with a prefix)";
  s += "\n    input:  ";
  for (int i = 0; i < 16; ++i) {
    if (i == x86::kRsp) continue;
    s += std::string(kRegNames[i]) + "=" + Hex(c.in.gpr[i]) + (i % 4 == 3 ? "\n            " : " ");
  }
  s += "flags=[" + FlagString(c.in.rflags) + "]";
  if (c.in.gpr[x86::kRbx] - MemBase() < kMemSize) {
    size_t off = MemOffset(c);
    uint64_t m = 0;
    if (off + 8 <= kMemSize) std::memcpy(&m, &c.mem[off], 8);
    s += " [rbx+" + std::to_string(kMemDisp) + "]=" + Hex(m) + " (buffer+" + std::to_string(off) + ")";
  }
  s += "\n";
  if (guest.vector >= 0) s += "    interpreter raised exception vector " + std::to_string(guest.vector) + "\n";
  if (!guest.error.empty()) s += "    interpreter: " + guest.error + "\n";
  if (MissedTheJit(form, guest)) s += "    the instruction did not run in a JIT block (TANDEM_DIFF_ENGINE=jit)\n";
  for (int i = 0; i < 16; ++i) {
    uint64_t d = (native.regs.gpr[i] ^ guest.regs.gpr[i]) & check.gpr_mask[i];
    if (d) s += "    " + std::string(kRegNames[i]) + ": host " + Hex(native.regs.gpr[i]) + "  interp " + Hex(guest.regs.gpr[i]) + "\n";
  }
  if (uint64_t changed = SystemFlagsChanged(c, guest)) {
    s += "    interpreter changed RFLAGS bits outside the arithmetic flags: " + Hex(changed) + " (in " +
         Hex(c.in.rflags | c.guest_system_flags) + ", out " + Hex(guest.regs.rflags) + ")\n";
  }
  for (int i = 0; i < 16; ++i) {
    if (native.regs.fx.xmm[i] != guest.regs.fx.xmm[i]) {
      s += "    xmm" + std::to_string(i) + ": input " + XmmHex(c.in.fx.xmm[i]) + "\n          host " +
           XmmHex(native.regs.fx.xmm[i]) + "  interp " + XmmHex(guest.regs.fx.xmm[i]) + "\n";
    }
  }
  if (form.sse) {
    s += "    input xmm:";
    for (int i = 0; i < 16; ++i) s += (i % 2 ? "  " : "\n      ") + ("xmm" + std::to_string(i) + "=") + XmmHex(c.in.fx.xmm[i]);
    s += "\n";
    char b[96];
    std::snprintf(b, sizeof b, "    mxcsr: input %04x  host %04x  interp %04x\n", c.in.fx.mxcsr, native.regs.fx.mxcsr,
                  guest.regs.fx.mxcsr);
    if (native.regs.fx.mxcsr != guest.regs.fx.mxcsr || c.in.fx.mxcsr != 0x1F80) s += b;
  }
  s += X87Diff(check, native, guest);
  if (form.x87) {
    const x86::FxState& f = c.in.fx;
    char b[96];
    std::snprintf(b, sizeof b, "    input x87: fcw %04x fsw %04x ftw %02x (TOP %d)", f.fcw, f.fsw, f.ftw, (f.fsw >> 11) & 7);
    s += b;
    for (int i = 0; i < 8; ++i) {
      uint64_t m;
      uint16_t e;
      std::memcpy(&m, f.st[i].data(), 8);
      std::memcpy(&e, f.st[i].data() + 8, 2);
      std::snprintf(b, sizeof b, "%sst(%d)=%04x:%016" PRIx64, i % 4 ? "  " : "\n      ", i, e, m);
      s += b;
    }
    s += "\n";
  }
  uint64_t fd = (native.regs.rflags ^ guest.regs.rflags) & check.flags;
  if (fd) {
    s += "    flags (compared: " + FlagString(check.flags) + "): host [" + FlagString(native.regs.rflags & check.flags) +
         "]  interp [" + FlagString(guest.regs.rflags & check.flags) + "]\n";
  }
  for (size_t i = 0; i < kMemSize; ++i) {
    if (native.mem[i] != guest.mem[i]) {
      size_t start = i & ~size_t{7};
      uint64_t h = 0, g = 0;
      std::memcpy(&h, &native.mem[start], 8);
      std::memcpy(&g, &guest.mem[start], 8);
      s += "    buffer+" + std::to_string(start) + " (qword, little-endian): host " + Hex(h) + "  interp " + Hex(g) + "\n";
      break;
    }
  }
  return s;
}

bool Matches(const Case& c, const Check& check, const Outcome& native, const Outcome& guest) {
  if (guest.vector >= 0 || !guest.error.empty()) return false;
  if (SystemFlagsChanged(c, guest)) return false;
  for (int i = 0; i < 16; ++i) {
    if ((native.regs.gpr[i] ^ guest.regs.gpr[i]) & check.gpr_mask[i]) return false;
  }
  if ((native.regs.rflags ^ guest.regs.rflags) & check.flags) return false;
  if (native.regs.fx.xmm != guest.regs.fx.xmm || native.regs.fx.mxcsr != guest.regs.fx.mxcsr) return false;
  if (!X87Diff(check, native, guest).empty()) return false;
  return native.mem == guest.mem;
}

struct Totals {
  int forms = 0;
  int passed = 0;
  uint64_t cases = 0;
  std::vector<std::string> failed;
};
Totals& GlobalTotals() {
  static Totals totals;
  return totals;
}

class SummaryEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = GlobalTotals();
    if (t.forms == 0) return;
    std::printf("diff: forms passed %d/%d, cases %" PRIu64 "\n", t.passed, t.forms, t.cases);
    for (const std::string& name : t.failed) std::printf("diff: FAILED %s\n", name.c_str());
  }
};
[[maybe_unused]] ::testing::Environment* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryEnvironment);

// TANDEM_DIFF_ENGINE=jit32 runs the forms through the JIT again with the guest
// in 32-bit compatibility-mode code wherever the same bytes mean the same
// instruction there: no REX prefix, no 64-bit or memory operand. The host
// side stays 64-bit: on EAX..EDI and the flags such an instruction does the
// same in both modes (and needs no IA-32 emulation in the host kernel).
// Cases whose bytes do not qualify are left out.
bool Compat32Twin() {
  static const bool on = [] {
    const char* which = std::getenv("TANDEM_DIFF_ENGINE");
    return which && std::string(which) == "jit32";
  }();
  return on;
}

bool SameIn32BitCode(const std::vector<uint8_t>& bytes) {
  ZydisDecoder d64, d32;
  ZydisDecoderInit(&d64, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecoderInit(&d32, ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecodedInstruction i64, i32;
  ZydisDecodedOperand o64[ZYDIS_MAX_OPERAND_COUNT], o32[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d64, bytes.data(), bytes.size(), &i64, o64)) ||
      !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d32, bytes.data(), bytes.size(), &i32, o32))) {
    return false;
  }
  if (i64.length != bytes.size() || i32.length != i64.length || i32.mnemonic != i64.mnemonic ||
      i32.operand_count != i64.operand_count || i64.operand_width == 64 || (i64.attributes & ZYDIS_ATTRIB_HAS_REX)) {
    return false;
  }
  for (unsigned k = 0; k < i64.operand_count; ++k) {
    const ZydisDecodedOperand &a = o64[k], &b = o32[k];
    if (a.type != b.type || a.type == ZYDIS_OPERAND_TYPE_MEMORY) return false;
    if (a.type == ZYDIS_OPERAND_TYPE_REGISTER && a.reg.value != b.reg.value) {
      // RFLAGS is EFLAGS there; other registers (RSP, RIP) mean another instruction.
      if (ZydisRegisterGetClass(a.reg.value) != ZYDIS_REGCLASS_FLAGS ||
          ZydisRegisterGetClass(b.reg.value) != ZYDIS_REGCLASS_FLAGS) {
        return false;
      }
      continue;
    }
    if (a.size != b.size) return false;
    if (a.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && a.imm.value.u != b.imm.value.u) return false;
  }
  return true;
}

uint64_t FormSeed(const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a: a fixed seed per form name
  for (char ch : name) h = (h ^ static_cast<uint8_t>(ch)) * 0x100000001B3ull;
  return h;
}

}  // namespace

FormResult EvaluateForm(const Form& form, uint64_t n, std::string* details, bool compat_twin) {
  constexpr int kMaxReported = 3;
  FormResult result{form.name};
  Rng rng(FormSeed(form.name));
  int reported = 0;
  Outcome native, guest;
  std::vector<uint8_t> bytes, guest_bytes;
  Form compat_form = form;
  compat_form.compat32 = true;
  uint16_t check_fsw_mask = 0xFFFF;
  for (uint64_t i = 0; i < n; ++i) {
    Case c;
    for (int r = 0; r < 16; ++r) c.in.gpr[r] = RandomValue(rng);
    c.in.gpr[x86::kRsp] = 0;
    for (size_t off = 0; off < kMemSize; off += 8) {
      uint64_t v = RandomValue(rng);
      std::memcpy(&c.mem[off], &v, 8);
    }
    // Every combination of the six arithmetic flags in turn, DF for strings.
    uint64_t combo = i % 64;
    uint64_t f = 2;
    const uint64_t bits[] = {x86::kFlagCf, x86::kFlagPf, x86::kFlagAf, x86::kFlagZf, x86::kFlagSf, x86::kFlagOf};
    for (int b = 0; b < 6; ++b) {
      if (combo >> b & 1) f |= bits[b];
    }
    if (form.vary_df && (i / 64) % 2) f |= x86::kFlagDf;
    c.in.rflags = f;
    c.imm = static_cast<int64_t>(RandomValue(rng));
    c.guest_system_flags = rng.Next() & kGuestSystemFlags;
    if (GuestUsesJit()) c.guest_system_flags &= ~x86::kFlagAc;
    if (form.x87) RandomX87(rng, c.in.fx);
    check_fsw_mask = static_cast<uint16_t>(~form.fsw_undefined);
    if (form.sse) {
      for (auto& x : c.in.fx.xmm) RandomXmm(rng, x);
      // Rounding mode, FTZ, DAZ; exceptions stay masked, flags start clear or set.
      c.in.fx.mxcsr = 0x1F80 | (rng.Below(4) << 13) | (rng.Below(4) == 0 ? 0x8000 : 0) | (rng.Below(4) == 0 ? 0x40 : 0) |
                   (rng.Below(4) == 0 ? static_cast<uint32_t>(rng.Below(64)) : 0);
    }
    c.in.gpr[x86::kRbx] = MemBase() + 500 - kMemDisp + rng.Below(64);  // some cross the page split
    Check check;
    check.flags = form.flags | kDf;
    check.gpr_mask.fill(~0ull);
    check.gpr_mask[x86::kRsp] = 0;
    if (form.compat32) {
      // Upper halves are undefined after compatibility mode; R8-R15 are out of reach.
      for (int r = 0; r < 16; ++r) check.gpr_mask[r] = r < 8 && r != x86::kRsp ? 0xFFFFFFFFull : 0;
    }
    check.fsw_mask = check_fsw_mask;
    if (form.prepare) form.prepare(c, rng, check);
    if (check.skip) {
      ++result.skipped;
      continue;
    }
    bytes = Assemble([&](x::Assembler& a) { form.emit(a, c); });
    guest_bytes = form.guest_prefix;
    if (form.guest_emit) {
      std::vector<uint8_t> g = Assemble([&](x::Assembler& a) { form.guest_emit(a, c); });
      guest_bytes.insert(guest_bytes.end(), g.begin(), g.end());
    } else {
      guest_bytes.insert(guest_bytes.end(), bytes.begin(), bytes.end());
    }
    bool compat = form.compat32;
    bool native64 = !compat;
    if (compat_twin && !compat) {
      if (form.sse || form.x87 || form.guest_emit || !form.guest_prefix.empty() || !SameIn32BitCode(bytes)) {
        ++result.skipped;
        continue;
      }
      compat = true;
      for (int r = 0; r < 16; ++r) check.gpr_mask[r] &= r < 8 && r != x86::kRsp ? 0xFFFFFFFFull : 0;
    }
    if (!native64) {
      CompatNative().Run(bytes, c, native);
    } else {
      Native().Run(bytes, c, native);
    }
    Guest().Run(guest_bytes, c, guest, compat);
    ++result.cases;
    if (!Matches(c, check, native, guest) || MissedTheJit(form, guest)) {
      ++result.mismatches;
      if (reported < kMaxReported) {
        if (details) *details += Describe(compat ? compat_form : form, guest_bytes, c, check, native, guest);
        ++reported;
      }
      if (result.mismatches >= kMaxReported) break;  // stop this form after a few mismatches
    }
  }
  return result;
}

namespace {
FormResult RunForm(const Form& form) {
  std::string details;
  FormResult result = EvaluateForm(form, CasesPerForm() * form.weight, &details, Compat32Twin());
  if (Compat32Twin() && result.cases == 0) return result;  // no case means the same in 32-bit code
  if (!result.passed()) {
    ADD_FAILURE() << "form " << form.name << ": " << result.mismatches << " mismatches in " << result.cases
                  << " cases\n"
                  << details;
  }
  return result;
}
}  // namespace

uint64_t CasesPerForm() {
  static uint64_t n = [] {
    const char* env = std::getenv("TANDEM_DIFF_CASES");
    uint64_t v = env ? std::strtoull(env, nullptr, 0) : 0;
    return v ? v : uint64_t{3000};
  }();
  return n;
}

void RunForms(const std::string& family, const std::vector<Form>& forms) {
  Totals& t = GlobalTotals();
  int passed = 0;
  uint64_t cases = 0;
  int applicable = 0;
  size_t skipped = 0;
  for (const Form& form : forms) {
    if (form.compat32 && !HostCompat32().ok) {
      std::printf("[SKIP] %-36s %s\n", form.name.c_str(), HostCompat32().reason.c_str());
      ++skipped;
      continue;
    }
    FormResult r = RunForm(form);
    if (Compat32Twin() && r.cases == 0) continue;
    ++applicable;
    std::printf("[%s] %-36s %s  %" PRIu64 " cases%s\n", r.passed() ? "PASS" : "FAIL", form.name.c_str(),
                r.passed() ? "" : ("(" + std::to_string(r.mismatches) + " mismatches)").c_str(), r.cases,
                r.skipped ? (", " + std::to_string(r.skipped) + " undefined skipped").c_str() : "");
    ++t.forms;
    t.cases += r.cases;
    cases += r.cases;
    if (r.passed()) {
      ++t.passed;
      ++passed;
    } else {
      t.failed.push_back(form.name);
    }
  }
  std::printf("%s: forms passed %d/%d, cases %" PRIu64 "\n", family.c_str(), passed, applicable, cases);
  std::fflush(stdout);
  if (skipped) GTEST_SKIP() << skipped << " forms in 32-bit code not run: " << HostCompat32().reason;
  if (applicable == 0 && Compat32Twin()) GTEST_SKIP() << "no form of " << family << " is expressible in 32-bit code";
}

Outcome RunGuestOnce(const std::vector<uint8_t>& bytes, const Case& c, bool compat32) {
  Outcome out;
  Guest().Run(bytes, c, out, compat32);
  return out;
}

uint64_t LastGuestRip() { return Guest().last_rip(); }

}  // namespace tandem::difftest
