// A raw disk image on the host (QEMU's raw format and file protocol): sector
// reads and writes with pread/pwrite, flush with fdatasync, discard and
// write-zeroes with fallocate where the host file system allows, an
// in-memory overlay for snapshot=on, and an OFD lock on the file (as QEMU's
// image locking) so two processes never write one image.
// Threading: one thread at a time (the disk's worker thread).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "hw/status.h"

namespace tandem::hw {

// One --drive: which image and how (QEMU's -drive spelling in the CLI).
struct DriveConfig {
  std::string path;
  bool read_only = false;
  bool snapshot = false;  // writes stay in memory; the image is not modified
  bool direct = false;    // cache=none: O_DIRECT, bypassing the host page cache
};

class RawImage {
 public:
  static constexpr uint64_t kSectorSize = 512;

  // Opens and locks the image: a shared lock for read-only and snapshot
  // use, an exclusive one for writing. Errors name the path.
  static Result<std::unique_ptr<RawImage>> Open(const DriveConfig& config);
  ~RawImage();
  RawImage(const RawImage&) = delete;
  RawImage& operator=(const RawImage&) = delete;

  // Whole sectors; a partial last sector of the file is not visible.
  uint64_t sectors() const { return size_ / kSectorSize; }
  bool read_only() const { return config_.read_only; }
  const DriveConfig& config() const { return config_; }

  // offset and length are multiples of kSectorSize inside the image (the
  // caller checks); false on a host I/O error.
  bool Read(uint64_t offset, uint8_t* buf, uint64_t length);
  bool Write(uint64_t offset, const uint8_t* buf, uint64_t length);
  bool Flush();
  // Discard is a hint: false only on a real I/O error.
  bool Discard(uint64_t offset, uint64_t length);
  bool WriteZeroes(uint64_t offset, uint64_t length);

  // The first host I/O error (read, write or flush), once: a line naming the
  // image and the errno, for the user (the guest itself gets a virtio I/O
  // error). Empty when there is nothing new to report.
  std::string TakeErrorReport();

  // Sectors held by the snapshot overlay (tests).
  size_t overlay_sectors() const { return overlay_.size(); }

 private:
  RawImage(DriveConfig config, int fd, uint64_t size) : config_(std::move(config)), fd_(fd), size_(size) {}
  bool HostRead(uint64_t offset, uint8_t* buf, uint64_t length);
  bool HostWrite(uint64_t offset, const uint8_t* buf, uint64_t length);
  // Records the first failure (errno) for TakeErrorReport; returns false.
  bool Failed(const char* what, uint64_t offset);

  DriveConfig config_;
  int fd_;
  uint64_t size_;
  std::string error_report_;       // the first failure, until taken
  bool error_seen_ = false;        // a failure was recorded (reported once per image)
  std::unordered_map<uint64_t, std::array<uint8_t, kSectorSize>> overlay_;  // snapshot=on: sector -> data
};

}  // namespace tandem::hw
