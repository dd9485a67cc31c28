// Raw disk images: pread/pwrite, fdatasync, fallocate, OFD locks.
#include "hw/block/raw_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace tandem::hw {

namespace {
// O_DIRECT wants aligned buffers; 4 KiB covers every host block size.
constexpr size_t kDirectAlign = 4096;

struct AlignedBuffer {
  explicit AlignedBuffer(uint64_t n) {
    if (posix_memalign(&p, kDirectAlign, n ? n : kDirectAlign) != 0) p = nullptr;
  }
  ~AlignedBuffer() { std::free(p); }
  void* p = nullptr;
};

std::string Why(int err) { return std::strerror(err); }
}  // namespace

Result<std::unique_ptr<RawImage>> RawImage::Open(const DriveConfig& config) {
  bool writable = !config.read_only && !config.snapshot;
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | (config.direct ? O_DIRECT : 0);
  int fd = open(config.path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    std::string how = config.direct && err == EINVAL ? " with cache=none (the file system has no O_DIRECT)" : "";
    return Status::Error("cannot open drive image '" + config.path + "'" + how + ": " + Why(err));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
    close(fd);
    return Status::Error("drive image '" + config.path + "' is not a regular file or block device");
  }
  // A write lock for writers, a read lock for readers: like QEMU's image
  // locking, readers may share an image, a writer excludes everybody.
  struct flock lock = {};
  lock.l_type = writable ? F_WRLCK : F_RDLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    int err = errno;
    close(fd);
    if (err == EAGAIN || err == EACCES) {
      return Status::Error("drive image '" + config.path + "' is locked: another process (another tandem?) is " +
                           (writable ? "using it" : "writing it"));
    }
    return Status::Error("cannot lock drive image '" + config.path + "': " + Why(err));
  }
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) {
    int err = errno;
    close(fd);
    return Status::Error("cannot size drive image '" + config.path + "': " + Why(err));
  }
  if (size == 0) {
    close(fd);
    return Status::Error("drive image '" + config.path + "' is empty: a raw image holds the disk's bytes (make one with truncate -s 1G)");
  }
  return std::unique_ptr<RawImage>(new RawImage(config, fd, static_cast<uint64_t>(size)));
}

RawImage::~RawImage() { close(fd_); }

bool RawImage::HostRead(uint64_t offset, uint8_t* buf, uint64_t length) {
  AlignedBuffer bounce(config_.direct ? length : 0);
  uint8_t* dst = config_.direct ? static_cast<uint8_t*>(bounce.p) : buf;
  if (!dst) return false;
  for (uint64_t done = 0; done < length;) {
    ssize_t n = pread(fd_, dst + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Failed("read", offset + done);
    if (n == 0) {  // past a block device's end: zeros, as a short file reads
      std::memset(dst + done, 0, length - done);
      break;
    }
    done += static_cast<uint64_t>(n);
  }
  if (config_.direct) std::memcpy(buf, dst, length);
  return true;
}

bool RawImage::HostWrite(uint64_t offset, const uint8_t* buf, uint64_t length) {
  AlignedBuffer bounce(config_.direct ? length : 0);
  const uint8_t* src = buf;
  if (config_.direct) {
    if (!bounce.p) return false;
    std::memcpy(bounce.p, buf, length);
    src = static_cast<const uint8_t*>(bounce.p);
  }
  for (uint64_t done = 0; done < length;) {
    ssize_t n = pwrite(fd_, src + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = ENOSPC;  // pwrite made no progress: the file cannot grow
    if (n <= 0) return Failed("write", offset + done);
    done += static_cast<uint64_t>(n);
  }
  return true;
}

bool RawImage::Failed(const char* what, uint64_t offset) {
  const int err = errno;
  if (!error_seen_) {
    error_seen_ = true;
    error_report_ = "drive '" + config_.path + "': host " + what + " failed at byte " + std::to_string(offset) +
                    ": " + Why(err) + " (the guest gets a virtio I/O error; reported once)";
  }
  return false;
}

std::string RawImage::TakeErrorReport() { return std::exchange(error_report_, std::string()); }

bool RawImage::Read(uint64_t offset, uint8_t* buf, uint64_t length) {
  if (overlay_.empty()) return HostRead(offset, buf, length);
  // Runs of sectors not in the overlay come from the image in one read.
  uint64_t run = 0;
  for (uint64_t at = 0; at < length; at += kSectorSize) {
    auto it = overlay_.find((offset + at) / kSectorSize);
    if (it == overlay_.end()) continue;
    if (at > run && !HostRead(offset + run, buf + run, at - run)) return false;
    std::memcpy(buf + at, it->second.data(), kSectorSize);
    run = at + kSectorSize;
  }
  return length <= run || HostRead(offset + run, buf + run, length - run);
}

bool RawImage::Write(uint64_t offset, const uint8_t* buf, uint64_t length) {
  if (config_.read_only) return false;
  if (!config_.snapshot) return HostWrite(offset, buf, length);
  for (uint64_t at = 0; at < length; at += kSectorSize) {
    std::memcpy(overlay_[(offset + at) / kSectorSize].data(), buf + at, kSectorSize);
  }
  return true;
}

bool RawImage::Flush() {
  if (config_.read_only || config_.snapshot) return true;
  return fdatasync(fd_) == 0 || Failed("flush (fdatasync)", 0);
}

bool RawImage::Discard(uint64_t offset, uint64_t length) {
  if (config_.read_only) return false;
  if (config_.snapshot) return true;  // a hint: the overlay keeps what it has
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(length)) == 0) {
    return true;
  }
  return errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL;  // no hole punching here: ignored
}

bool RawImage::WriteZeroes(uint64_t offset, uint64_t length) {
  if (config_.read_only) return false;
  if (!config_.snapshot && fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                                     static_cast<off_t>(length)) == 0) {
    return true;
  }
  // No ZERO_RANGE (or snapshot=on): write zeros in chunks.
  constexpr uint64_t kChunk = 1 << 20;
  std::vector<uint8_t> zeros(std::min(length, kChunk), 0);
  for (uint64_t done = 0; done < length;) {
    uint64_t n = std::min(length - done, kChunk);
    if (!Write(offset + done, zeros.data(), n)) return false;
    done += n;
  }
  return true;
}

}  // namespace tandem::hw
