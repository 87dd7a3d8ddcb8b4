#include "emulator/emulator_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace otaverify {
namespace emulator {

EmulatorState::EmulatorState(Seed seed) : seed_(std::move(seed)) {
  absl::MutexLock lock(&mu_);
  LoadSeedLocked();
}

void EmulatorState::Reset() {
  absl::MutexLock lock(&mu_);
  LoadSeedLocked();
}

void EmulatorState::LoadSeedLocked() {
  instances_ = std::set<std::string>(seed_.instances().begin(), seed_.instances().end());
  products_.clear();
  jobs_.clear();
  firmware_products_.clear();
  next_sequence_ = 0;
  for (const SeedProduct& seed_product : seed_.products()) {
    Product& product = products_[seed_product.product_key()];
    product.iot_instance_id = seed_product.iot_instance_id();
    product.devices.insert(seed_product.devices().begin(), seed_product.devices().end());
    for (const SeedFirmware& firmware : seed_product.firmwares()) {
      FirmwareInfo& info = product.firmwares[firmware.firmware_id()];
      info.firmware_id = firmware.firmware_id();
      info.firmware_name =
          firmware.firmware_name().empty() ? firmware.firmware_id() : firmware.firmware_name();
      info.src_version = firmware.src_version();
      info.dest_version = firmware.dest_version().empty() ? "1.0.0" : firmware.dest_version();
      info.product_key = seed_product.product_key();
      info.status = firmware.status();
      info.utc_create = SeedFirmwareCreated();
      info.utc_modified = SeedFirmwareCreated();
      firmware_products_[firmware.firmware_id()] = seed_product.product_key();
    }
  }
}

namespace {

// Verification progress as QueryOTAFirmware reports it: the emulator simulates no devices, so
// a verification is at 0 until it is over (verified or failed).
int VerifyProgress(int status) {
  return status == kFirmwareVerified || status == kFirmwareVerifyFailed ? 100 : 0;
}

}  // namespace

std::optional<ApiError> EmulatorState::FindFirmwareLocked(const std::string& firmware_id,
                                                          const std::string& iot_instance_id,
                                                          const FirmwareInfo** info) const {
  if (!iot_instance_id.empty() && instances_.count(iot_instance_id) == 0) {
    return BusinessError("iot.Sre.IotInstanceNotFound",
                         absl::StrCat("The instance ", iot_instance_id, " does not exist."));
  }
  // A package is only visible from its product's instance (protocol.md §1).
  auto owner = firmware_products_.find(firmware_id);
  const Product* product = nullptr;
  if (owner != firmware_products_.end()) {
    auto it = products_.find(owner->second);
    if (it != products_.end() && it->second.iot_instance_id == iot_instance_id) {
      product = &it->second;
    }
  }
  if (product == nullptr) {
    return BusinessError("iot.ota.NotExistedFirmware",
                         absl::StrCat("The firmware ", firmware_id, " does not exist."));
  }
  *info = &product->firmwares.at(firmware_id);
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::QueryFirmware(const std::string& firmware_id,
                                                     const std::string& iot_instance_id,
                                                     FirmwareInfo* info) const {
  absl::MutexLock lock(&mu_);
  const FirmwareInfo* found = nullptr;
  if (auto error = FindFirmwareLocked(firmware_id, iot_instance_id, &found)) return error;
  *info = *found;
  info->verify_progress = VerifyProgress(info->status);
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::ListJobsByFirmware(const std::string& firmware_id,
                                                          const std::string& iot_instance_id,
                                                          std::vector<VerifyJob>* jobs) const {
  absl::MutexLock lock(&mu_);
  const FirmwareInfo* found = nullptr;
  if (auto error = FindFirmwareLocked(firmware_id, iot_instance_id, &found)) return error;
  jobs->clear();
  for (const auto& [id, job] : jobs_) {
    if (job.spec.firmware_id == firmware_id && job.spec.product_key == found->product_key) {
      jobs->push_back(job);
    }
  }
  std::sort(jobs->begin(), jobs->end(), [](const VerifyJob& a, const VerifyJob& b) {
    return a.sequence > b.sequence;  // newest first
  });
  return std::nullopt;
}

// The iot.ota.* codes below are the emulator's own choice: no public list of OTA-specific
// codes exists (protocol.md §8). The iot.Sre / iot.prod / iot.device codes are documented.
std::optional<ApiError> EmulatorState::CreateVerifyJob(const VerifyJobSpec& spec, absl::Time now,
                                                       const std::string& job_id, VerifyJob* job) {
  absl::MutexLock lock(&mu_);
  if (!spec.iot_instance_id.empty() && instances_.count(spec.iot_instance_id) == 0) {
    return BusinessError("iot.Sre.IotInstanceNotFound",
                         absl::StrCat("The instance ", spec.iot_instance_id, " does not exist."));
  }
  auto product_it = products_.find(spec.product_key);
  // A product is only visible from its own instance (protocol.md §1): a missing or wrong
  // IotInstanceId looks exactly like an unknown product.
  if (product_it == products_.end() || product_it->second.iot_instance_id != spec.iot_instance_id) {
    return BusinessError("iot.prod.NotExistedProduct",
                         absl::StrCat("The product ", spec.product_key, " does not exist."));
  }
  Product& product = product_it->second;
  auto firmware_it = product.firmwares.find(spec.firmware_id);
  if (firmware_it == product.firmwares.end()) {
    return BusinessError("iot.ota.NotExistedFirmware",
                         absl::StrCat("The firmware ", spec.firmware_id,
                                      " does not exist in product ", spec.product_key, "."));
  }
  for (const std::string& device : spec.device_names) {
    if (product.devices.count(device) == 0) {
      return BusinessError("iot.device.NotExistedDevice",
                           absl::StrCat("The device ", device, " does not exist in product ",
                                        spec.product_key, "."));
    }
  }
  switch (firmware_it->second.status) {
    case kFirmwareVerifying:
      return BusinessError(
          "iot.ota.VerifyJobIsProcessing",
          absl::StrCat("The firmware ", spec.firmware_id, " is being verified by another job."));
    case kFirmwareVerified:
      return BusinessError(
          "iot.ota.FirmwareAlreadyVerified",
          absl::StrCat("The firmware ", spec.firmware_id, " has already been verified."));
    case kFirmwareVerifyNotRequired:
      return BusinessError(
          "iot.ota.FirmwareNotNeedVerify",
          absl::StrCat("The firmware ", spec.firmware_id, " does not need verification."));
    default:  // not verified, or a failed verification that may be retried
      break;
  }
  firmware_it->second.status = kFirmwareVerifying;
  firmware_it->second.utc_modified = now;
  VerifyJob& stored = jobs_[job_id];
  stored.job_id = job_id;
  stored.spec = spec;
  stored.utc_create = now;
  stored.sequence = ++next_sequence_;
  *job = stored;
  return std::nullopt;
}

std::optional<int> EmulatorState::FirmwareStatus(const std::string& product_key,
                                                 const std::string& firmware_id) const {
  absl::MutexLock lock(&mu_);
  auto product = products_.find(product_key);
  if (product == products_.end()) return std::nullopt;
  auto firmware = product->second.firmwares.find(firmware_id);
  if (firmware == product->second.firmwares.end()) return std::nullopt;
  return firmware->second.status;
}

bool EmulatorState::SetFirmwareStatus(const std::string& product_key,
                                      const std::string& firmware_id, int status, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto product = products_.find(product_key);
  if (product == products_.end()) return false;
  auto firmware = product->second.firmwares.find(firmware_id);
  if (firmware == product->second.firmwares.end()) return false;
  firmware->second.status = status;
  firmware->second.utc_modified = now;
  return true;
}

std::optional<VerifyJob> EmulatorState::FindJob(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

size_t EmulatorState::JobCount() const {
  absl::MutexLock lock(&mu_);
  return jobs_.size();
}

}  // namespace emulator
}  // namespace otaverify
