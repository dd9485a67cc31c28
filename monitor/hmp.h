// The human monitor commands QMP's human-monitor-command runs (QEMU's HMP,
// docs "QEMU Monitor"): the read-only `info` family that scripts use.
#pragma once

#include <string>

#include "monitor/machine_control.h"

namespace tandem::monitor {

// Runs `command_line` for vCPU `cpu` and returns its output, lines ending
// in "\r\n" as QEMU's monitor prints them; an unknown command's output says so.
std::string RunHmp(MachineControl& control, const std::string& command_line, int cpu);

}  // namespace tandem::monitor
