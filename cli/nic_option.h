// `--nic` in QEMU's -nic spelling, for the virtio-net NIC:
// none | user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,mac=XX:..]
// | tap,ifname=NAME[,mac=XX:..]; model=virtio-net-pci (or virtio) is accepted.
#pragma once

#include <string>

#include "hw/net/nic_config.h"
#include "hw/status.h"

namespace tandem::cli {

// The NIC the option describes; the error says which part is wrong.
Result<hw::NicConfig> ParseNicOption(const std::string& spec);

}  // namespace tandem::cli
