// A QMP server (QEMU's "QEMU Machine Protocol", docs/interop/qmp-spec):
// JSON objects over Unix or TCP stream sockets, a greeting, capabilities
// negotiation, commands answered by "return" or "error", and asynchronous
// events with timestamps. Commands act on a MachineControl.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/status.h"
#include "monitor/listen_socket.h"
#include "monitor/machine_control.h"

namespace tandem::monitor {

struct QmpVersion {
  int major = 0, minor = 0, micro = 0;
  std::string package;  // "tandem 0.1.0"
};

// Threading: the server runs one thread of its own that polls the listening
// socket and every client and runs each command to completion there (so
// MachineControl is called from that thread only). Emit() may be called
// from any thread. mutex_ (in the implementation) guards only the queue of
// events Emit() hands to that thread; it is never held while calling
// MachineControl.
class QmpServer {
 public:
  // Listens on `endpoint`. With endpoint.wait, returns only once the first
  // client has connected (QEMU's wait=on holds the guest until then).
  static Result<std::unique_ptr<QmpServer>> Start(const Endpoint& endpoint, MachineControl& control,
                                                  QmpVersion version);
  // Stops the thread, sends what is queued for the clients (a SHUTDOWN
  // event, say) as far as they take it without blocking long, and closes.
  ~QmpServer();
  QmpServer(const QmpServer&) = delete;
  QmpServer& operator=(const QmpServer&) = delete;

  // Sends event `name` with `data_json` (a JSON object's text, "" for none)
  // to every client that completed negotiation.
  void Emit(const std::string& name, const std::string& data_json = "");
  // The events the machine raises by itself, with QEMU's data.
  void EmitGuestReset() { Emit("RESET", R"({"guest": true, "reason": "guest-reset"})"); }
  void EmitGuestShutdown() { Emit("SHUTDOWN", R"({"guest": true, "reason": "guest-shutdown"})"); }

  // The TCP port listened on (useful when endpoint.port was 0).
  uint16_t port() const;

  struct Impl;

 private:
  explicit QmpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::monitor
