// --drive parsing (QEMU's -drive keys, the subset tandem implements).
#include "cli/drive_option.h"

#include <utility>
#include <vector>

namespace tandem::cli {

namespace {
Result<bool> OnOff(const std::string& key, const std::string& value) {
  if (value == "on" || value == "yes" || value == "true") return true;
  if (value == "off" || value == "no" || value == "false") return false;
  return Status::Error("--drive " + key + "=" + value + ": want on or off");
}
}  // namespace

// Splits at single commas; ",," stays as one comma (QEMU's QemuOpts escape).
std::vector<std::string> SplitQemuOptions(const std::string& spec) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == ',' && i + 1 < spec.size() && spec[i + 1] == ',') {
      parts.back() += ',';
      ++i;
    } else if (spec[i] == ',') {
      parts.emplace_back();
    } else {
      parts.back() += spec[i];
    }
  }
  return parts;
}

Result<hw::DriveConfig> ParseDriveOption(const std::string& spec) {
  hw::DriveConfig drive;
  bool have_file = false;
  for (const std::string& part : SplitQemuOptions(spec)) {
    size_t eq = part.find('=');
    if (eq == std::string::npos) return Status::Error("--drive '" + part + "': want KEY=VALUE");
    std::string key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "file") {
      if (value.empty()) return Status::Error("--drive file= needs a path");
      drive.path = value;
      have_file = true;
    } else if (key == "format") {
      if (value != "raw") return Status::Error("--drive format=" + value + ": only raw images are supported");
    } else if (key == "if") {
      if (value != "virtio") return Status::Error("--drive if=" + value + ": only virtio disks are supported");
    } else if (key == "readonly" || key == "snapshot") {
      auto on = OnOff(key, value);
      if (!on.ok()) return on.status();
      (key == "readonly" ? drive.read_only : drive.snapshot) = *on;
    } else if (key == "cache") {
      if (value != "writeback" && value != "none") {
        return Status::Error("--drive cache=" + value + ": want writeback or none");
      }
      drive.direct = value == "none";
    } else {
      return Status::Error("--drive: unknown key '" + key +
                           "' (file, format, if, readonly, snapshot, cache)");
    }
  }
  if (!have_file) return Status::Error("--drive '" + spec + "': no file=PATH");
  return drive;
}

}  // namespace tandem::cli
