// HMP `info registers`, `info cpus`, `info status`, `info kvm`, `help`.
#include "monitor/hmp.h"

#include <sstream>
#include <vector>

namespace tandem::monitor {

namespace {

std::string CrLf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

constexpr const char* kHelp =
    "info cpus -- show infos for each CPU\n"
    "info kvm -- show KVM information\n"
    "info registers [-a] -- show the cpu registers (-a: all CPUs)\n"
    "info status -- show the current VM status (running|paused)\n";

}  // namespace

std::string RunHmp(MachineControl& control, const std::string& command_line, int cpu) {
  std::istringstream in(command_line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return "";
  if (words[0] == "help" || words[0] == "?") return CrLf(kHelp);
  if (words[0] != "info") return CrLf("unknown command: '" + words[0] + "'\n");
  if (words.size() < 2) return CrLf(kHelp);
  const std::string& what = words[1];
  if (what == "registers") {
    std::string out;
    bool all = words.size() > 2 && words[2] == "-a";
    for (const CpuInfo& c : control.Cpus()) {
      if (!all && c.index != cpu) continue;
      auto state = control.GetState(c.index);
      if (!state.ok()) return CrLf(state.message() + "\n");
      if (all) out += "\nCPU#" + std::to_string(c.index) + "\n";
      out += x86::DumpRegisters(*state);
    }
    return CrLf(out);
  }
  if (what == "cpus") {
    std::string out;
    for (const CpuInfo& c : control.Cpus()) {
      out += (c.index == cpu ? "* " : "  ") + std::string("CPU #") + std::to_string(c.index) +
             ": thread_id=" + std::to_string(c.thread_id) + "\n";
    }
    return CrLf(out);
  }
  if (what == "status") {
    RunState s = control.State();
    return CrLf(std::string("VM status: ") + RunStateName(s) + "\n");
  }
  if (what == "kvm") {
    EngineInfo e = control.Engine();
    return CrLf(std::string("kvm support: ") + (e.name == "kvm" ? "enabled" : e.kvm_present ? "disabled" : "not compiled") +
                "\n");
  }
  return CrLf("info: unknown item '" + what + "'\n" + kHelp);
}

}  // namespace tandem::monitor
