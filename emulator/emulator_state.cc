#include "emulator/emulator_state.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// FNV-1a: a fixed hash, so a device's IotId is the same in every run.
uint64_t Fnv1a(absl::string_view s, uint64_t seed) {
  uint64_t hash = 14695981039346656037ull ^ seed;
  for (char c : s) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// A device's IotId: 20 alphanumerics derived from the product and the device name, then
// "000100", in the shape of the service's 26-character ids.
std::string IotIdFor(const std::string& product_key, const std::string& device) {
  const std::string key = absl::StrCat(product_key, "/", device);
  std::string out;
  for (uint64_t part = 0; out.size() < 20; ++part) {
    uint64_t hash = Fnv1a(key, part);
    for (int i = 0; i < 10 && out.size() < 20; ++i) {
      out.push_back(kAlnum[hash % 62]);
      hash /= 62;
    }
  }
  return out + "000100";
}

// A task's id: stable, unique within the job (the index) and across jobs (the job's random
// id), 20 alphanumerics like the service's.
std::string TaskIdFor(const std::string& job_id, size_t index) {
  std::string suffix = absl::StrCat(index + 1);
  suffix.insert(0, 4 - std::min<size_t>(4, suffix.size()), '0');
  return absl::StrCat(job_id.substr(0, 16), suffix);
}

// Verification progress of a package no job drives: 100 once it is over (verified or
// failed), else 0.
int VerifyProgress(int status) {
  return status == kFirmwareVerified || status == kFirmwareVerifyFailed ? 100 : 0;
}

ApiError InstanceNotFound(const std::string& iot_instance_id) {
  return BusinessError("iot.Sre.IotInstanceNotFound",
                       absl::StrCat("The instance ", iot_instance_id, " does not exist."));
}

}  // namespace

EmulatorState::EmulatorState(Seed seed, SimulationSettings simulation, const Clock* clock)
    : seed_(std::move(seed)), simulation_(simulation), clock_(clock) {
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
    for (const auto& [device, seed_behavior] : seed_product.device_behaviors()) {
      // ValidateSeed accepted every behaviour.
      absl::StatusOr<DeviceBehavior> behavior = ParseDeviceBehavior(seed_behavior);
      if (behavior.ok()) product.behaviors[device] = *behavior;
    }
    for (const SeedFirmware& firmware : seed_product.firmwares()) {
      FirmwareInfo& info = product.firmwares[firmware.firmware_id()].info;
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

TaskState EmulatorState::TaskAt(const TaskRecord& task, absl::Time now) const {
  if (task.canceled.has_value()) return *task.canceled;
  return SimulateTask(task.plan, simulation_, now);
}

VerifyJob EmulatorState::JobAtLocked(const JobRecord& record, absl::Time now) const {
  VerifyJob job = record.job;
  bool all_finished = true;
  bool any_canceled = false;
  absl::Time end = job.utc_create;
  for (const TaskRecord& task : record.tasks) {
    const TaskState state = TaskAt(task, now);
    all_finished = all_finished && state.finished;
    any_canceled = any_canceled || state.status == kTaskCanceled;
    end = std::max(end, state.modified);
  }
  job.utc_modified = job.utc_create;
  if (record.last_cancel.has_value()) {
    job.utc_modified = std::max(job.utc_modified, *record.last_cancel);
  }
  if (all_finished) {
    job.job_status = any_canceled ? kJobCanceled : kJobCompleted;
    job.utc_end = end;
    job.utc_modified = std::max(job.utc_modified, end);
  } else {
    job.job_status = kJobInProgress;
  }
  return job;
}

FirmwareInfo EmulatorState::FirmwareAtLocked(const FirmwareRecord& record, absl::Time now) const {
  FirmwareInfo info = record.info;
  auto job_it = record.job_id.empty() ? jobs_.end() : jobs_.find(record.job_id);
  if (job_it == jobs_.end()) {
    info.verify_progress = VerifyProgress(info.status);
    return info;
  }
  const JobRecord& job = job_it->second;
  int64_t progress_sum = 0;
  bool all_finished = true;
  bool any_failed = false;
  bool any_canceled = false;
  absl::Time end = job.job.utc_create;
  for (const TaskRecord& task : job.tasks) {
    const TaskState state = TaskAt(task, now);
    progress_sum += state.progress;
    all_finished = all_finished && state.finished;
    any_failed = any_failed || state.status == kTaskFailed;
    any_canceled = any_canceled || state.status == kTaskCanceled;
    end = std::max(end, state.modified);
  }
  if (!all_finished) {
    info.status = kFirmwareVerifying;
    info.verify_progress =
        job.tasks.empty() ? 0
                          : static_cast<int>(progress_sum / static_cast<int64_t>(job.tasks.size()));
    return info;  // utc_modified: the create that made it verifying
  }
  // The emulator's assumption (the public docs do not say): a canceled verification leaves
  // the package unverified, so it can be verified again; otherwise one failed device fails
  // the verification.
  if (any_canceled) {
    info.status = kFirmwareNotVerified;
  } else if (any_failed) {
    info.status = kFirmwareVerifyFailed;
  } else {
    info.status = kFirmwareVerified;
  }
  info.verify_progress = VerifyProgress(info.status);
  info.utc_modified = end;
  return info;
}

std::optional<ApiError> EmulatorState::FindFirmwareLocked(const std::string& firmware_id,
                                                          const std::string& iot_instance_id,
                                                          const FirmwareRecord** record) const {
  if (!iot_instance_id.empty() && instances_.count(iot_instance_id) == 0) {
    return InstanceNotFound(iot_instance_id);
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
  *record = &product->firmwares.at(firmware_id);
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::FindJobLocked(const std::string& job_id,
                                                     const std::string& iot_instance_id,
                                                     const JobRecord** record) const {
  if (!iot_instance_id.empty() && instances_.count(iot_instance_id) == 0) {
    return InstanceNotFound(iot_instance_id);
  }
  // Like a package, a job is only visible from its product's instance (protocol.md §1).
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.job.spec.iot_instance_id != iot_instance_id) {
    return BusinessError("iot.ota.NotExistedJob",
                         absl::StrCat("The job ", job_id, " does not exist."));
  }
  *record = &it->second;
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::QueryFirmware(const std::string& firmware_id,
                                                     const std::string& iot_instance_id,
                                                     absl::Time now, FirmwareInfo* info) const {
  absl::MutexLock lock(&mu_);
  const FirmwareRecord* found = nullptr;
  if (auto error = FindFirmwareLocked(firmware_id, iot_instance_id, &found)) return error;
  *info = FirmwareAtLocked(*found, now);
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::ListJobsByFirmware(const std::string& firmware_id,
                                                          const std::string& iot_instance_id,
                                                          absl::Time now,
                                                          std::vector<VerifyJob>* jobs) const {
  absl::MutexLock lock(&mu_);
  const FirmwareRecord* found = nullptr;
  if (auto error = FindFirmwareLocked(firmware_id, iot_instance_id, &found)) return error;
  jobs->clear();
  for (const auto& [id, record] : jobs_) {
    if (record.job.spec.firmware_id == firmware_id &&
        record.job.spec.product_key == found->info.product_key) {
      jobs->push_back(JobAtLocked(record, now));
    }
  }
  std::sort(jobs->begin(), jobs->end(), [](const VerifyJob& a, const VerifyJob& b) {
    return a.sequence > b.sequence;  // newest first
  });
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::QueryJob(const std::string& job_id,
                                                const std::string& iot_instance_id, absl::Time now,
                                                VerifyJob* job) const {
  absl::MutexLock lock(&mu_);
  const JobRecord* record = nullptr;
  if (auto error = FindJobLocked(job_id, iot_instance_id, &record)) return error;
  *job = JobAtLocked(*record, now);
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::ListTasks(const std::string& job_id,
                                                 const std::string& iot_instance_id, absl::Time now,
                                                 VerifyJob* job,
                                                 std::vector<OtaTask>* tasks) const {
  absl::MutexLock lock(&mu_);
  const JobRecord* record = nullptr;
  if (auto error = FindJobLocked(job_id, iot_instance_id, &record)) return error;
  *job = JobAtLocked(*record, now);
  tasks->clear();
  for (const TaskRecord& task : record->tasks) {
    tasks->push_back(
        OtaTask{task.task_id, task.device_name, task.iot_id, TaskAt(task, now), task.plan.created});
  }
  return std::nullopt;
}

std::optional<ApiError> EmulatorState::CancelTasks(const std::string& job_id,
                                                   const std::string& iot_instance_id,
                                                   const CancelFlags& flags, absl::Time now,
                                                   int* canceled) {
  absl::MutexLock lock(&mu_);
  const JobRecord* found = nullptr;
  if (auto error = FindJobLocked(job_id, iot_instance_id, &found)) return error;
  JobRecord& record = jobs_.at(job_id);
  int count = 0;
  for (TaskRecord& task : record.tasks) {
    const TaskState state = TaskAt(task, now);
    if (state.finished) continue;
    const bool flagged = (state.status == kTaskConfirm && flags.unconfirmed) ||
                         (state.status == kTaskQueued && flags.queued) ||
                         (state.status == kTaskNotified && flags.notified) ||
                         (state.status == kTaskInProgress && flags.in_progress);
    if (!flagged) continue;
    task.canceled = TaskState{kTaskCanceled, state.progress, "canceled", now, true};
    ++count;
  }
  if (count > 0) record.last_cancel = now;
  if (canceled != nullptr) *canceled = count;
  return std::nullopt;
}

// The iot.ota.* codes below are the emulator's own choice: no public list of OTA-specific
// codes exists (protocol.md §8). The iot.Sre / iot.prod / iot.device codes are documented.
std::optional<ApiError> EmulatorState::CreateVerifyJob(const VerifyJobSpec& spec, absl::Time now,
                                                       const std::string& job_id, VerifyJob* job) {
  absl::MutexLock lock(&mu_);
  if (!spec.iot_instance_id.empty() && instances_.count(spec.iot_instance_id) == 0) {
    return InstanceNotFound(spec.iot_instance_id);
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
  FirmwareRecord& firmware = firmware_it->second;
  switch (FirmwareAtLocked(firmware, now).status) {
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
    default:  // not verified, or a failed or canceled verification that may be retried
      break;
  }
  firmware.info.status = kFirmwareVerifying;
  firmware.info.utc_modified = now;
  firmware.job_id = job_id;
  JobRecord& stored = jobs_[job_id];
  stored.job.job_id = job_id;
  stored.job.spec = spec;
  stored.job.src_version = firmware.info.src_version;
  stored.job.dest_version = firmware.info.dest_version;
  stored.job.utc_create = now;
  stored.job.utc_modified = now;
  stored.job.sequence = ++next_sequence_;
  for (size_t i = 0; i < spec.device_names.size(); ++i) {
    const std::string& device = spec.device_names[i];
    TaskRecord task;
    task.task_id = TaskIdFor(job_id, i);
    task.device_name = device;
    task.iot_id = IotIdFor(spec.product_key, device);
    auto behavior = product.behaviors.find(device);
    if (behavior != product.behaviors.end()) task.plan.behavior = behavior->second;
    task.plan.created = now;
    task.plan.need_confirm = spec.need_confirm;
    task.plan.timeout_in_minutes = spec.timeout_in_minutes;
    stored.tasks.push_back(std::move(task));
  }
  *job = JobAtLocked(stored, now);
  return std::nullopt;
}

std::optional<int> EmulatorState::FirmwareStatus(const std::string& product_key,
                                                 const std::string& firmware_id) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto product = products_.find(product_key);
  if (product == products_.end()) return std::nullopt;
  auto firmware = product->second.firmwares.find(firmware_id);
  if (firmware == product->second.firmwares.end()) return std::nullopt;
  return FirmwareAtLocked(firmware->second, now).status;
}

bool EmulatorState::SetFirmwareStatus(const std::string& product_key,
                                      const std::string& firmware_id, int status, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto product = products_.find(product_key);
  if (product == products_.end()) return false;
  auto firmware = product->second.firmwares.find(firmware_id);
  if (firmware == product->second.firmwares.end()) return false;
  firmware->second.info.status = status;
  firmware->second.info.utc_modified = now;
  firmware->second.job_id.clear();
  return true;
}

std::optional<VerifyJob> EmulatorState::FindJob(const std::string& job_id) const {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return std::nullopt;
  return JobAtLocked(it->second, now);
}

size_t EmulatorState::JobCount() const {
  absl::MutexLock lock(&mu_);
  return jobs_.size();
}

}  // namespace emulator
}  // namespace otaverify
