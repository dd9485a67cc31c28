#include "accel/accelerator.h"

#include <sstream>

#include "accel/interp/interp_engine.h"
#include "accel/kvm/kvm_engine.h"

namespace tandem::accel {

std::vector<Accelerator> AcceleratorList() {
  return {
      {"kvm", "Linux KVM hardware virtualization", kvm::Probe,
       [](hw::Board& board) { return kvm::CreateMachine(board); }},
      {"jit", "x86 interpreter with a JIT for all but virtual-8086 code (asmjit)", interp::ProbeJit,
       [](hw::Board& board) { return interp::CreateMachine(board, true); }},
      {"interp", "x86 interpreter (decoded-instruction cache)", [] { return Availability{true, ""}; },
       [](hw::Board& board) { return interp::CreateMachine(board); }},
  };
}

Result<Choice> ChooseAccelerator(const std::vector<Accelerator>& list, const std::string& spec) {
  std::vector<std::string> names;
  if (spec == "auto") {
    for (const auto& accel : list) names.push_back(accel.name);
  } else {
    std::stringstream ss(spec);
    std::string name;
    while (std::getline(ss, name, ':')) names.push_back(name);
  }
  if (names.empty()) return Status::Error("no accelerator named in '" + spec + "'");
  Choice choice;
  const Accelerator* degraded = nullptr;
  std::string degraded_caveat;
  for (const auto& name : names) {
    auto lookup = FindAccelerator(list, name);
    if (!lookup.ok()) return lookup.status();
    const Accelerator* found = *lookup;
    Availability a = found->probe();
    if (a.available && a.degraded && spec == "auto") {
      if (!degraded) {
        degraded = found;
        degraded_caveat = a.reason;
      }
      choice.passed_over.push_back(name + ": " + a.reason);
      continue;
    }
    if (a.available) {
      choice.accelerator = found;
      choice.caveat = a.reason;
      return choice;
    }
    choice.fallbacks.push_back(name + ": " + a.reason);
  }
  if (degraded) {  // nothing better: take it after all
    choice.accelerator = degraded;
    choice.caveat = degraded_caveat;
    choice.passed_over.clear();
    return choice;
  }
  std::string why;
  for (const auto& f : choice.fallbacks) why += (why.empty() ? "" : "; ") + f;
  return Status::Error("no accelerator available (" + why + ")");
}

Result<const Accelerator*> FindAccelerator(const std::vector<Accelerator>& list, const std::string& name) {
  for (const auto& accel : list) {
    if (accel.name == name) return &accel;
  }
  std::string known;
  for (const auto& accel : list) known += (known.empty() ? "" : ", ") + accel.name;
  return Status::Error("unknown accelerator '" + name + "' (known: " + known + ")");
}

}  // namespace tandem::accel
