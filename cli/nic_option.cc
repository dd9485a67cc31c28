// --nic parsing (QEMU's -nic keys, the subset tandem implements).
#include "cli/nic_option.h"

#include <arpa/inet.h>

#include "cli/drive_option.h"

namespace tandem::cli {

namespace {
// A port 1-65535 in decimal.
bool ParsePort(const std::string& text, uint16_t& port) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long v = std::stoul(text);
  if (v == 0 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

// An IPv4 address, or empty (left as 0).
bool ParseAddr(const std::string& text, in_addr& addr) {
  addr = in_addr{};
  return text.empty() || inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

// [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as QEMU's slirp_hostfwd().
Result<hw::HostForward> ParseHostForward(const std::string& value) {
  const Status error = Status::Error("--nic hostfwd=" + value +
                                     ": want [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (IPv4)");
  hw::HostForward f;
  size_t dash = value.find('-');
  if (dash == std::string::npos) return error;
  std::string host = value.substr(0, dash), guest = value.substr(dash + 1);
  size_t c1 = host.find(':');
  if (c1 == std::string::npos) return error;
  std::string proto = host.substr(0, c1);
  if (proto == "udp") {
    f.udp = true;
  } else if (!proto.empty() && proto != "tcp") {
    return error;
  }
  size_t c2 = host.find(':', c1 + 1);
  size_t c3 = guest.find(':');
  if (c2 == std::string::npos || c3 == std::string::npos) return error;
  if (!ParseAddr(host.substr(c1 + 1, c2 - c1 - 1), f.host_addr) || !ParsePort(host.substr(c2 + 1), f.host_port) ||
      !ParseAddr(guest.substr(0, c3), f.guest_addr) || !ParsePort(guest.substr(c3 + 1), f.guest_port)) {
    return error;
  }
  return f;
}

// Six hex pairs separated by colons; a unicast address.
bool ParseMac(const std::string& text, std::array<uint8_t, 6>& mac) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    if (i < 5 && text[3 * i + 2] != ':') return false;
    std::string pair = text.substr(3 * i, 2);
    if (pair.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
    mac[i] = static_cast<uint8_t>(std::stoul(pair, nullptr, 16));
  }
  return !(mac[0] & 1);
}
}  // namespace

Result<hw::NicConfig> ParseNicOption(const std::string& spec) {
  std::vector<std::string> parts = SplitQemuOptions(spec);
  hw::NicConfig nic;
  const std::string& type = parts[0];
  if (type == "none") {
    if (parts.size() > 1) return Status::Error("--nic none takes no options");
    return nic;
  }
  if (type == "user") {
    nic.kind = hw::NicConfig::Kind::kUser;
  } else if (type == "tap") {
    nic.kind = hw::NicConfig::Kind::kTap;
  } else {
    return Status::Error("--nic '" + type + "': want none, user or tap");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    size_t eq = part.find('=');
    if (eq == std::string::npos) return Status::Error("--nic '" + part + "': want KEY=VALUE");
    std::string key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "mac") {
      if (!ParseMac(value, nic.mac)) return Status::Error("--nic mac=" + value + ": want a unicast XX:XX:XX:XX:XX:XX");
    } else if (key == "model") {
      if (value != "virtio" && value != "virtio-net-pci") {
        return Status::Error("--nic model=" + value + ": only virtio-net-pci is supported");
      }
    } else if (key == "hostfwd" && nic.kind == hw::NicConfig::Kind::kUser) {
      auto f = ParseHostForward(value);
      if (!f.ok()) return f.status();
      nic.forwards.push_back(*f);
    } else if (key == "ifname" && nic.kind == hw::NicConfig::Kind::kTap) {
      if (value.empty()) return Status::Error("--nic tap: ifname= needs a name");
      nic.ifname = value;
    } else {
      return Status::Error("--nic " + type + ": unknown key '" + key + "' (" +
                           (nic.kind == hw::NicConfig::Kind::kUser ? "hostfwd" : "ifname") + ", mac, model)");
    }
  }
  if (nic.kind == hw::NicConfig::Kind::kTap && nic.ifname.empty()) {
    return Status::Error("--nic tap needs ifname=NAME");
  }
  return nic;
}

}  // namespace tandem::cli
