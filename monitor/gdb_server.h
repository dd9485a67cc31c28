// A gdbstub: the GDB remote serial protocol (GDB manual, appendix "GDB
// Remote Serial Protocol") over a TCP or Unix socket, for one debugger at
// a time, with gdb's i386:x86-64 register layout (amd64 without a target
// description's extra features). Acts on a MachineControl.
#pragma once

#include <memory>

#include "hw/status.h"
#include "monitor/listen_socket.h"
#include "monitor/machine_control.h"

namespace tandem::monitor {

// Threading: one thread of its own polls the socket and runs the packets
// (MachineControl is called from there); DebugStopped() may come from any
// thread and only queues the stop report (mutex_ in the implementation
// guards that queue, and is never held while calling MachineControl).
class GdbServer final : public DebugStopSink {
 public:
  static Result<std::unique_ptr<GdbServer>> Start(const Endpoint& endpoint, MachineControl& control);
  ~GdbServer() override;
  void DebugStopped(int cpu) override;
  uint16_t port() const;

  struct Impl;

 private:
  explicit GdbServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// gdb's amd64 register numbers: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 (0-15),
// rip 16, eflags 17, cs ss ds es fs gs 18-23, st0-7 24-31, fctrl fstat ftag
// fiseg fioff foseg fooff fop 32-39, xmm0-15 40-55, mxcsr 56.
inline constexpr int kGdbRegisterCount = 57;
// Register `n` as gdb's target byte order (little-endian) bytes.
std::vector<uint8_t> GdbReadRegister(const x86::CpuState& s, int n);
// Sets register `n` from `bytes` (its gdb size); false for a bad n or size.
bool GdbWriteRegister(x86::CpuState& s, int n, const std::vector<uint8_t>& bytes);

}  // namespace tandem::monitor
