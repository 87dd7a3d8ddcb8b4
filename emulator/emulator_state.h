// EmulatorState: the emulated IoT platform's mutable world — products, devices, firmware
// verification status and verify jobs — seeded from a Seed and restorable to it.
//
// Thread-safe: every member is guarded by one absl::Mutex; methods never call out while
// holding it. Later work (simulated devices, QueryOTAJob, ...) extends this class.
#ifndef OTAVERIFY_EMULATOR_EMULATOR_STATE_H_
#define OTAVERIFY_EMULATOR_EMULATOR_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/api_error.h"
#include "emulator/create_verify_job.h"
#include "emulator/seed.pb.h"

namespace otaverify {
namespace emulator {

// Firmware Status values of QueryOTAFirmware (protocol.md §7).
inline constexpr int kFirmwareVerifyNotRequired = -1;
inline constexpr int kFirmwareNotVerified = 0;
inline constexpr int kFirmwareVerified = 1;
inline constexpr int kFirmwareVerifying = 2;
inline constexpr int kFirmwareVerifyFailed = 3;

struct VerifyJob {
  std::string job_id;
  std::string job_type = "VERFIY_FIRMWARE";  // sic: the API's spelling (protocol.md §7)
  std::string job_status = "IN_PROGRESS";
  VerifyJobSpec spec;
  absl::Time utc_create;
  int64_t sequence = 0;  // creation order, for newest-first listings at equal times
};

// QueryOTAFirmware's view of one package (protocol.md §7).
struct FirmwareInfo {
  std::string firmware_id;
  std::string firmware_name;
  std::string src_version;  // may be empty (left out of the answer)
  std::string dest_version;
  std::string product_key;
  int status = kFirmwareNotVerified;
  int verify_progress = 0;  // 0..100: 100 once verification finished (verified or failed)
  absl::Time utc_create;
  absl::Time utc_modified;  // the last status change
};

// When seeded packages were "created".
inline constexpr absl::Time SeedFirmwareCreated() {
  return absl::FromUnixSeconds(1704067200);  // 2024-01-01T00:00:00Z
}

class EmulatorState {
 public:
  // REQUIRES: ValidateSeed(seed).ok().
  explicit EmulatorState(Seed seed);

  EmulatorState(const EmulatorState&) = delete;
  EmulatorState& operator=(const EmulatorState&) = delete;

  // Back to the seed: statuses restored, jobs forgotten.
  void Reset();

  // Applies the stateful rules of CreateOTAVerifyJob (instance, product, firmware, devices,
  // firmware status) and, on success, records the job as `job_id` and marks the firmware as
  // verifying. Returns the business-layer error otherwise.
  std::optional<ApiError> CreateVerifyJob(const VerifyJobSpec& spec, absl::Time now,
                                          const std::string& job_id, VerifyJob* job);

  // QueryOTAFirmware: the package `firmware_id` as seen from instance `iot_instance_id` (empty:
  // the old public instance). iot.Sre.IotInstanceNotFound for an unknown instance;
  // iot.ota.NotExistedFirmware for an unknown package or one whose product lives elsewhere.
  std::optional<ApiError> QueryFirmware(const std::string& firmware_id,
                                        const std::string& iot_instance_id,
                                        FirmwareInfo* info) const;
  // ListOTAJobByFirmware: every job of the package, newest first; errors as QueryFirmware.
  std::optional<ApiError> ListJobsByFirmware(const std::string& firmware_id,
                                             const std::string& iot_instance_id,
                                             std::vector<VerifyJob>* jobs) const;

  std::optional<int> FirmwareStatus(const std::string& product_key,
                                    const std::string& firmware_id) const;
  // Sets a package's status at `now`, as a verification finishing would (for tests: the
  // emulator simulates no devices). False if there is no such package.
  bool SetFirmwareStatus(const std::string& product_key, const std::string& firmware_id, int status,
                         absl::Time now);
  std::optional<VerifyJob> FindJob(const std::string& job_id) const;
  size_t JobCount() const;

 private:
  struct Product {
    std::string iot_instance_id;
    std::set<std::string> devices;
    std::map<std::string, FirmwareInfo> firmwares;  // by firmware id
  };

  void LoadSeedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The package as seen from `iot_instance_id`, or the error QueryFirmware documents.
  std::optional<ApiError> FindFirmwareLocked(const std::string& firmware_id,
                                             const std::string& iot_instance_id,
                                             const FirmwareInfo** info) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Seed seed_;
  mutable absl::Mutex mu_;
  std::set<std::string> instances_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Product> products_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, VerifyJob> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> firmware_products_ ABSL_GUARDED_BY(mu_);  // id -> product
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_EMULATOR_STATE_H_
