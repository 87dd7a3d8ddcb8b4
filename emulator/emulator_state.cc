#include "emulator/emulator_state.h"

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
  for (const SeedProduct& seed_product : seed_.products()) {
    Product& product = products_[seed_product.product_key()];
    product.iot_instance_id = seed_product.iot_instance_id();
    product.devices.insert(seed_product.devices().begin(), seed_product.devices().end());
    for (const SeedFirmware& firmware : seed_product.firmwares()) {
      product.firmware_status[firmware.firmware_id()] = firmware.status();
    }
  }
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
  auto firmware_it = product.firmware_status.find(spec.firmware_id);
  if (firmware_it == product.firmware_status.end()) {
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
  switch (firmware_it->second) {
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
  firmware_it->second = kFirmwareVerifying;
  VerifyJob& stored = jobs_[job_id];
  stored.job_id = job_id;
  stored.spec = spec;
  stored.utc_create = now;
  *job = stored;
  return std::nullopt;
}

std::optional<int> EmulatorState::FirmwareStatus(const std::string& product_key,
                                                 const std::string& firmware_id) const {
  absl::MutexLock lock(&mu_);
  auto product = products_.find(product_key);
  if (product == products_.end()) return std::nullopt;
  auto firmware = product->second.firmware_status.find(firmware_id);
  if (firmware == product->second.firmware_status.end()) return std::nullopt;
  return firmware->second;
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
