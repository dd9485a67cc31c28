// The gdbstub (GDB manual, "Remote Protocol": packets, acks, Ctrl-C, the
// g/p register layout of gdb's amd64 target, qXfer:features for the
// architecture name).
#include "monitor/gdb_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "target-x86/page_walk.h"

namespace tandem::monitor {

namespace {

// gdb's register order for rax..rdi: our Gpr numbers.
constexpr int kGdbGpr[8] = {x86::kRax, x86::kRbx, x86::kRcx, x86::kRdx, x86::kRsi, x86::kRdi, x86::kRbp, x86::kRsp};
// gdb's segment order cs ss ds es fs gs: our SegReg numbers.
constexpr int kGdbSeg[6] = {x86::kCs, x86::kSs, x86::kDs, x86::kEs, x86::kFs, x86::kGs};

// Where register n lives: `size` bytes as gdb sees them, `stored` bytes at
// `ptr` (zero-extended on read, truncated on write); ptr null: reads 0.
struct Slot {
  uint8_t* ptr = nullptr;
  unsigned size = 0, stored = 0;
};

Slot SlotOf(x86::CpuState& s, int n) {
  auto p = [](auto& field) { return reinterpret_cast<uint8_t*>(&field); };
  if (n < 0 || n >= kGdbRegisterCount) return {};
  if (n < 8) return {p(s.gpr[kGdbGpr[n]]), 8, 8};
  if (n < 16) return {p(s.gpr[n]), 8, 8};
  if (n == 16) return {p(s.rip), 8, 8};
  if (n == 17) return {p(s.rflags), 4, 8};
  if (n < 24) return {p(s.seg[kGdbSeg[n - 18]].selector), 4, 2};
  if (n < 32) return {s.fx.st[n - 24].data(), 10, 10};
  switch (n) {
    case 32: return {p(s.fx.fcw), 4, 2};
    case 33: return {p(s.fx.fsw), 4, 2};
    case 34: return {nullptr, 4, 0};  // ftag: computed from the abridged tag word
    case 35: return {nullptr, 4, 0};  // fiseg: not kept in 64-bit FXSAVE format
    case 36: return {p(s.fx.fip), 4, 4};
    case 37: return {nullptr, 4, 0};  // foseg
    case 38: return {p(s.fx.fdp), 4, 4};
    case 39: return {p(s.fx.fop), 4, 2};
  }
  if (n < 56) return {s.fx.xmm[n - 40].data(), 16, 16};
  return {p(s.fx.mxcsr), 4, 4};
}

std::string Hex(const std::vector<uint8_t>& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::optional<std::vector<uint8_t>> Unhex(const std::string& text) {
  if (text.size() % 2) return std::nullopt;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::optional<uint64_t> ParseHex(const std::string& text) {
  if (text.empty() || text.size() > 16 || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(text, nullptr, 16);
}

constexpr const char* kTargetXml =
    "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
    "<target><architecture>i386:x86-64</architecture></target>";
constexpr size_t kMaxPacket = 0x4000;

}  // namespace

std::vector<uint8_t> GdbReadRegister(const x86::CpuState& state, int n) {
  x86::CpuState s = state;
  Slot slot = SlotOf(s, n);
  std::vector<uint8_t> out(slot.size, 0);
  if (slot.ptr) std::memcpy(out.data(), slot.ptr, std::min(slot.size, slot.stored));
  if (n == 34) {  // the full tag word: 11 (empty) where the abridged bit is clear, 00 (valid) otherwise
    uint16_t tag = 0;
    for (int i = 0; i < 8; ++i) {
      if (!(s.fx.ftw >> i & 1)) tag |= 3 << (2 * i);
    }
    out[0] = static_cast<uint8_t>(tag);
    out[1] = static_cast<uint8_t>(tag >> 8);
  }
  return out;
}

bool GdbWriteRegister(x86::CpuState& s, int n, const std::vector<uint8_t>& bytes) {
  Slot slot = SlotOf(s, n);
  if (slot.size == 0 || bytes.size() != slot.size) return false;
  if (!slot.ptr) return true;  // not kept: writes are ignored
  std::memset(slot.ptr, 0, slot.stored);
  std::memcpy(slot.ptr, bytes.data(), std::min(slot.size, slot.stored));
  return true;
}

struct GdbServer::Impl {
  Impl(ListenSocket listen, MachineControl& control) : listen_(std::move(listen)), control_(control) {}
  ~Impl() {
    if (fd_ >= 0) close(fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // --- packets --------------------------------------------------------------

  void Send(const std::string& data) {
    uint8_t sum = 0;
    for (char c : data) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
    char tail[4];
    std::snprintf(tail, sizeof tail, "#%02x", sum);
    out_ += "$" + data + tail;
  }

  std::string StopReply(int signal) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "T%02xthread:%02x;", signal, cpu_ + 1);
    return buf;
  }

  std::optional<x86::CpuState> State() {
    auto s = control_.GetState(cpu_);
    if (!s.ok()) return std::nullopt;
    return *s;
  }

  // Guest-virtual memory through vCPU cpu_'s page tables, page by page.
  bool AccessVirtual(uint64_t address, uint8_t* data, size_t size, bool write) {
    auto state = State();
    if (!state) return false;
    auto reader = [this](uint64_t a, void* out, size_t n) { return control_.ReadPhysical(a, out, n); };
    while (size) {
      size_t n = std::min<size_t>(size, 0x1000 - (address & 0xFFF));
      auto physical = x86::LinearToPhysical(*state, address, reader);
      if (!physical) return false;
      bool ok = write ? control_.WritePhysical(*physical, data, n) : control_.ReadPhysical(*physical, data, n);
      if (!ok) return false;
      address += n;
      data += n;
      size -= n;
    }
    return true;
  }

  void Resume(bool step) {
    Status s = control_.SetDebug(step, std::vector<uint64_t>(breakpoints_.begin(), breakpoints_.end()));
    if (!s.ok()) {
      Send("E01");
      return;
    }
    waiting_ = true;
    auto resumed = control_.Cont();
    if (!resumed.ok()) {
      waiting_ = false;
      Send("E01");
    }
  }

  // One packet's reply; nothing for c/s, whose reply is the stop report.
  void Handle(const std::string& p) {
    if (p.empty()) return Send("");
    const char kind = p[0];
    const std::string arg = p.substr(1);
    if (p == "?") return Send(StopReply(5));
    if (p.rfind("qSupported", 0) == 0) return Send("PacketSize=4000;qXfer:features:read+;QStartNoAckMode+");
    if (p == "QStartNoAckMode") {
      Send("OK");
      no_ack_pending_ = true;
      return;
    }
    if (p.rfind("qXfer:features:read:target.xml:", 0) == 0) {
      std::string range = p.substr(std::strlen("qXfer:features:read:target.xml:"));
      size_t comma = range.find(',');
      auto offset = ParseHex(range.substr(0, comma));
      auto length = comma == std::string::npos ? std::nullopt : ParseHex(range.substr(comma + 1));
      if (!offset || !length) return Send("E00");
      std::string xml = kTargetXml;
      if (*offset >= xml.size()) return Send("l");
      std::string part = xml.substr(*offset, *length);
      return Send((*offset + part.size() >= xml.size() ? "l" : "m") + part);
    }
    if (p == "qC") return Send("QC" + Hex({static_cast<uint8_t>(cpu_ + 1)}));
    if (p == "qAttached") return Send("1");
    if (p == "qfThreadInfo") {
      std::string list = "m";
      for (const CpuInfo& c : control_.Cpus()) {
        if (list.size() > 1) list += ",";
        list += Hex({static_cast<uint8_t>(c.index + 1)});
      }
      return Send(list);
    }
    if (p == "qsThreadInfo") return Send("l");
    if (kind == 'H') {
      auto id = ParseHex(p.substr(2));
      if (p.size() > 2 && p[2] != '-' && id && *id > 0) {
        bool exists = false;
        for (const CpuInfo& c : control_.Cpus()) exists |= c.index + 1 == static_cast<int>(*id);
        if (!exists) return Send("E22");
        cpu_ = static_cast<int>(*id) - 1;
      }
      return Send("OK");
    }
    if (kind == 'T') {
      auto id = ParseHex(arg);
      for (const CpuInfo& c : control_.Cpus()) {
        if (id && c.index + 1 == static_cast<int>(*id)) return Send("OK");
      }
      return Send("E22");
    }
    if (kind == 'g') {
      auto s = State();
      if (!s) return Send("E14");
      std::string all;
      for (int n = 0; n < kGdbRegisterCount; ++n) all += Hex(GdbReadRegister(*s, n));
      return Send(all);
    }
    if (kind == 'G') {
      auto s = State();
      auto bytes = Unhex(arg);
      if (!s || !bytes) return Send("E22");
      size_t at = 0;
      for (int n = 0; n < kGdbRegisterCount && at < bytes->size(); ++n) {
        size_t size = GdbReadRegister(*s, n).size();
        if (at + size > bytes->size()) break;
        GdbWriteRegister(*s, n, std::vector<uint8_t>(bytes->begin() + at, bytes->begin() + at + size));
        at += size;
      }
      return Send(control_.SetState(cpu_, *s).ok() ? "OK" : "E14");
    }
    if (kind == 'p') {
      auto n = ParseHex(arg);
      auto s = State();
      if (!n || !s || *n >= kGdbRegisterCount) return Send("E22");
      return Send(Hex(GdbReadRegister(*s, static_cast<int>(*n))));
    }
    if (kind == 'P') {
      size_t eq = arg.find('=');
      auto n = ParseHex(arg.substr(0, eq));
      auto bytes = eq == std::string::npos ? std::nullopt : Unhex(arg.substr(eq + 1));
      auto s = State();
      if (!n || !bytes || !s || !GdbWriteRegister(*s, static_cast<int>(*n), *bytes)) return Send("E22");
      return Send(control_.SetState(cpu_, *s).ok() ? "OK" : "E14");
    }
    if (kind == 'm' || kind == 'M') {
      size_t comma = arg.find(','), colon = arg.find(':');
      auto address = ParseHex(arg.substr(0, comma));
      auto length = comma == std::string::npos ? std::nullopt
                                               : ParseHex(arg.substr(comma + 1, kind == 'M' ? colon - comma - 1 : std::string::npos));
      if (!address || !length || *length > kMaxPacket / 2) return Send("E22");
      if (kind == 'm') {
        std::vector<uint8_t> data(*length);
        return Send(AccessVirtual(*address, data.data(), data.size(), false) ? Hex(data) : "E14");
      }
      auto data = colon == std::string::npos ? std::nullopt : Unhex(arg.substr(colon + 1));
      if (!data || data->size() != *length) return Send("E22");
      return Send(AccessVirtual(*address, data->data(), data->size(), true) ? "OK" : "E14");
    }
    if ((kind == 'Z' || kind == 'z') && p.size() > 2 && (p[1] == '0' || p[1] == '1') && p[2] == ',') {
      std::string rest = p.substr(3);
      auto address = ParseHex(rest.substr(0, rest.find(',')));
      if (!address) return Send("E22");
      std::set<uint64_t> wanted = breakpoints_;
      if (kind == 'Z') {
        wanted.insert(*address);
      } else {
        wanted.erase(*address);
      }
      Status s = control_.SetDebug(false, std::vector<uint64_t>(wanted.begin(), wanted.end()));
      // Not "" (unsupported): gdb would then plant int3 in guest memory, and
      // an engine without debug support would hand the #BP to the guest.
      if (!s.ok()) return Send("E01");
      breakpoints_ = wanted;
      return Send("OK");
    }
    if (kind == 'c' || kind == 'C' || kind == 's' || kind == 'S') {
      if ((kind == 'c' || kind == 's') && !arg.empty()) {
        auto address = ParseHex(arg);
        auto s = State();
        if (!address || !s) return Send("E22");
        s->rip = *address;
        if (!control_.SetState(cpu_, *s).ok()) return Send("E14");
      }
      return Resume(kind == 's' || kind == 'S');
    }
    if (kind == 'k') {
      control_.Quit();
      closing_ = true;
      return;
    }
    if (kind == 'D') {
      Detach();
      Send("OK");
      closing_ = true;
      return;
    }
    Send("");  // unsupported: vCont?, vMustReplyEmpty, qOffsets, X, ...
  }

  // The debugger leaves: no more breakpoints, and the machine runs on.
  void Detach() {
    breakpoints_.clear();
    control_.SetDebug(false, {});
    control_.Cont();
    waiting_ = false;
  }

  // --- the byte stream --------------------------------------------------------

  void Feed(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      char c = data[i];
      if (!in_packet_) {
        if (c == '$') {
          in_packet_ = true;
          packet_.clear();
          checksum_left_ = -1;
        } else if (c == 0x03 && waiting_) {
          Interrupt();
        }
        continue;  // acks ('+', '-') and noise
      }
      if (checksum_left_ < 0) {
        if (c == '#') {
          checksum_left_ = 2;
          checksum_.clear();
        } else if (packet_.size() < kMaxPacket * 2) {
          packet_ += c;
        }
        continue;
      }
      checksum_ += c;
      if (--checksum_left_ > 0) continue;
      in_packet_ = false;
      uint8_t sum = 0;
      for (char b : packet_) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
      auto given = ParseHex(checksum_);
      if (!no_ack_ && (!given || *given != sum)) {
        out_ += '-';
        continue;
      }
      if (!no_ack_) out_ += '+';
      Handle(packet_);
      if (no_ack_pending_) no_ack_ = true, no_ack_pending_ = false;
    }
  }

  void Interrupt() {
    control_.Stop();
    waiting_ = false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stops_.empty()) {  // a breakpoint got there first
      stops_.clear();
      Send(StopReply(5));
    } else {
      Send(StopReply(2));  // SIGINT
    }
  }

  void ReportStops() {
    std::deque<int> stops;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stops.swap(stops_);
    }
    if (stops.empty() || !waiting_) return;
    waiting_ = false;
    cpu_ = stops.front();
    Send(StopReply(5));  // SIGTRAP
  }

  bool Flush() {
    while (!out_.empty()) {
      ssize_t n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out_.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      }
    }
    return true;
  }

  void Disconnect() {
    Detach();
    close(fd_);
    fd_ = -1;
    out_.clear();
    in_packet_ = false;
    no_ack_ = no_ack_pending_ = closing_ = false;
  }

  void Loop() {
    while (!stopping_.load()) {
      std::vector<pollfd> fds = {{wake_fd_, POLLIN, 0}, {listen_.fd(), POLLIN, 0}};
      if (fd_ >= 0) fds.push_back({fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0});
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
      }
      if (fd_ >= 0) {
        bool alive = true;
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
          char buf[4096];
          ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
          if (n > 0) {
            Feed(buf, static_cast<size_t>(n));
          } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            alive = false;
          }
        }
        if (alive) ReportStops();
        if (alive) alive = Flush() && !(closing_ && out_.empty());
        if (!alive) Disconnect();
      }
      if (fds[1].revents & POLLIN) {
        int fd = listen_.Accept();
        if (fd >= 0 && fd_ >= 0) {
          close(fd);  // one debugger at a time
        } else if (fd >= 0) {
          fd_ = fd;
          // A debugger attaching stops the machine, as QEMU's gdbstub does.
          control_.Stop();
          cpu_ = 0;
          std::lock_guard<std::mutex> lock(mutex_);
          stops_.clear();
        }
      }
    }
  }

  ListenSocket listen_;
  MachineControl& control_;
  int fd_ = -1;  // the debugger's connection
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::string out_, packet_, checksum_;
  bool in_packet_ = false;
  int checksum_left_ = -1;
  bool no_ack_ = false, no_ack_pending_ = false, closing_ = false;
  bool waiting_ = false;  // a c/s runs: the reply is the next stop
  int cpu_ = 0;           // the vCPU g/m/p act on (gdb's thread - 1)
  std::set<uint64_t> breakpoints_;
  std::mutex mutex_;       // guards stops_
  std::deque<int> stops_;  // vCPUs reported by DebugStopped()
};

Result<std::unique_ptr<GdbServer>> GdbServer::Start(const Endpoint& endpoint, MachineControl& control) {
  auto listen = ListenSocket::Open(endpoint);
  if (!listen.ok()) return listen.status();
  auto impl = std::make_unique<Impl>(std::move(*listen), control);
  impl->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake_fd_ < 0) return Status::Error(std::string("eventfd: ") + std::strerror(errno));
  Impl* raw = impl.get();
  raw->thread_ = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<GdbServer>(new GdbServer(std::move(impl)));
}

GdbServer::GdbServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GdbServer::~GdbServer() {
  impl_->stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(impl_->wake_fd_, &one, sizeof one);
  if (impl_->thread_.joinable()) impl_->thread_.join();
}

void GdbServer::DebugStopped(int cpu) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex_);
    impl_->stops_.push_back(cpu);
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(impl_->wake_fd_, &one, sizeof one);
}

uint16_t GdbServer::port() const { return impl_->listen_.port(); }

}  // namespace tandem::monitor
