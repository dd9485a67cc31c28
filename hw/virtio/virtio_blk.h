// virtio-blk, the block device (VIRTIO 1.2 5.2) on a raw host image: read,
// write, flush, get-id, discard and write-zeroes requests on one queue,
// served by a worker thread per disk so that host I/O never stalls a vCPU.
//
// Threading and lock order: the board's device lock (Board::device_lock())
// comes first, then this device's queue mutex_. The vCPU side calls
// QueueNotify()/Reset() (holding the device lock once the board takes it
// around every bus access); they only take mutex_. The worker takes the
// device lock while it pops requests and while it completes them (used ring,
// ISR, NotifyUsed), never while it does host I/O or waits on mutex_.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hw/block/raw_image.h"
#include "hw/virtio/virtio_pci.h"

namespace tandem::hw::virtio {

class VirtioBlk final : public VirtioDevice {
 public:
  // Feature bits (5.2.3).
  static constexpr uint64_t kFeatureSegMax = 1ull << 2, kFeatureRo = 1ull << 5, kFeatureBlkSize = 1ull << 6,
                            kFeatureFlush = 1ull << 9, kFeatureDiscard = 1ull << 13,
                            kFeatureWriteZeroes = 1ull << 14;
  // Request types and status (5.2.6).
  static constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4, kTypeGetId = 8, kTypeDiscard = 11,
                            kTypeWriteZeroes = 13;
  static constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupported = 2;
  static constexpr unsigned kConfigSize = 60;  // struct virtio_blk_config up to write_zeroes_may_unmap
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kSegMax = kQueueSize - 2;
  static constexpr size_t kIdBytes = 20;

  // Gets the line about a failed host read, write or flush (once per drive;
  // the guest gets VIRTIO_BLK_S_IOERR): a host problem for the user, not a
  // guest diagnostic. Called on the worker thread.
  using ErrorReporter = std::function<void(const std::string&)>;

  // serial: what GET_ID returns (at most 20 bytes; empty as QEMU without serial=).
  VirtioBlk(std::unique_ptr<RawImage> image, std::mutex& device_lock, std::string serial = "",
            ErrorReporter report_error = {});
  ~VirtioBlk() override;

  const char* name() const override { return "blk"; }
  uint16_t transitional_pci_id() const override { return 0x1001; }
  uint16_t device_id() const override { return 2; }
  uint32_t pci_class() const override { return 0x010000; }  // mass storage, as QEMU's virtio-blk-pci
  uint64_t features() const override;
  unsigned num_queues() const override { return 1; }
  uint16_t queue_max_size() const override { return kQueueSize; }
  unsigned config_size() const override { return kConfigSize; }
  uint64_t ReadConfig(uint64_t offset, unsigned size) override;
  void QueueNotify(unsigned q) override;
  void Reset() override;
  void Quiesce() override { WaitIdle(); }

  RawImage& image() { return *image_; }
  // Blocks until the worker has served every notification so far (tests).
  void WaitIdle();

 private:
  struct Outcome {
    uint8_t status = kStatusOk;
    uint32_t data_written = 0;  // bytes put in device-writable data buffers
  };
  void WorkerLoop();
  void Drain();
  // Serves one request; false when the chain cannot even carry a status
  // (the device then needs a reset).
  bool Serve(const VirtChain& chain, Outcome& out, std::string& error);
  Outcome ServeRange(uint32_t type, uint64_t sector, const VirtChain& chain, uint64_t data_offset);

  std::unique_ptr<RawImage> image_;
  std::mutex& device_lock_;
  std::string serial_;
  ErrorReporter report_error_;
  std::atomic<uint64_t> generation_{0};  // bumped by Reset(): in-flight results are dropped

  std::mutex mutex_;  // guards kicked_, busy_, stop_
  std::condition_variable kick_cv_, idle_cv_;
  bool kicked_ = false, busy_ = false, stop_ = false;
  std::thread worker_;
};

}  // namespace tandem::hw::virtio
