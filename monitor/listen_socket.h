// Where a monitor listens, in QEMU's character-device spelling
// (docs "-chardev socket"): `unix:PATH` or `tcp:[HOST]:PORT`, with the
// options `server=on|off` and `wait=on|off` after commas.
#pragma once

#include <cstdint>
#include <string>

#include "hw/status.h"

namespace tandem::monitor {

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp; empty: every local address
  uint16_t port = 0; // kTcp
  bool wait = true;  // hold the guest until the first client connects (QEMU's default)
};

// Parses `spec` as --qmp takes it. `option` names the option in errors
// ("--qmp"). Only server mode exists: server=on must be given, as QEMU's
// -qmp needs it to listen; wait defaults to on, as in QEMU. With
// `gdb_style` (QEMU's -gdb tcp::1234), the server is implied and wait is off.
Result<Endpoint> ParseEndpoint(const std::string& spec, const std::string& option, bool gdb_style = false);

// A listening socket, closed (and a Unix socket's path removed) on destruction.
class ListenSocket {
 public:
  static Result<ListenSocket> Open(const Endpoint& endpoint);
  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ~ListenSocket();
  int fd() const { return fd_; }
  // The TCP port bound (the one asked for, or the kernel's choice for 0).
  uint16_t port() const { return port_; }
  // Accepts one pending connection, non-blocking and close-on-exec; -1 if none.
  int Accept() const;

 private:
  ListenSocket() = default;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string unlink_path_;
};

}  // namespace tandem::monitor
