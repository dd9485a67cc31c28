// What `--nic` asks for (QEMU's -nic spelling, parsed in cli/nic_option.cc):
// no NIC, a virtio-net NIC on user networking (libslirp), or on a TAP device.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tandem::hw {

// One hostfwd=: connections to host_addr:host_port go to guest_addr:guest_port.
struct HostForward {
  bool udp = false;
  in_addr host_addr{};   // INADDR_ANY when not given
  uint16_t host_port = 0;
  in_addr guest_addr{};  // 0: the DHCP address, 10.0.2.15
  uint16_t guest_port = 0;
};

struct NicConfig {
  enum class Kind { kNone, kUser, kTap };
  Kind kind = Kind::kNone;
  // QEMU's first NIC address.
  std::array<uint8_t, 6> mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  std::vector<HostForward> forwards;  // kUser
  std::string ifname;                 // kTap
};

}  // namespace tandem::hw
