// Device simulation: what one device's task in a verify job looks like at a given instant
// (README.md, "Device simulation"). A task is a pure function of its plan — the device's
// seeded behaviour, the job's options and its creation time — and the clock, so states are
// computed lazily on every read: no threads, and a ManualClock drives them exactly.
//
// Timeline of a pushed update (D = SimulationSettings::device_update_time): NOTIFIED at
// creation; IN_PROGRESS from D/10 on, Progress rising linearly from 0 to 100 over the rest of
// D; SUCCEEDED at D. A failing device stops at its percent and turns FAILED there; a timing-out
// one stalls at its percent; an offline one stays QUEUED; with NeedConfirm every task waits in
// CONFIRM. A job's TimeoutInMinutes (one emulated minute = SimulationSettings::emulated_minute)
// fails every task still NOTIFIED or IN_PROGRESS when it elapses.
//
// Pure functions and value types; thread-safe.
#ifndef OTAVERIFY_EMULATOR_DEVICE_SIMULATION_H_
#define OTAVERIFY_EMULATOR_DEVICE_SIMULATION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "emulator/seed.pb.h"

namespace otaverify {
namespace emulator {

// TaskStatus values of ListOTATaskByJob (protocol.md §7).
inline constexpr char kTaskConfirm[] = "CONFIRM";
inline constexpr char kTaskQueued[] = "QUEUED";
inline constexpr char kTaskNotified[] = "NOTIFIED";
inline constexpr char kTaskInProgress[] = "IN_PROGRESS";
inline constexpr char kTaskSucceeded[] = "SUCCEEDED";
inline constexpr char kTaskFailed[] = "FAILED";
inline constexpr char kTaskCanceled[] = "CANCELED";

// True for the seven TaskStatus values above.
bool IsTaskStatus(const std::string& status);

struct SimulationSettings {
  // From creation to SUCCEEDED for a device that succeeds. REQUIRES: > 0.
  absl::Duration device_update_time = absl::Seconds(4);
  // How long one of the job's TimeoutInMinutes lasts. REQUIRES: > 0.
  absl::Duration emulated_minute = absl::Seconds(1);
};

// INVALID_ARGUMENT unless both durations are positive.
absl::Status ValidateSimulationSettings(const SimulationSettings& settings);

enum class DeviceBehaviorKind { kSucceed, kFail, kOffline, kTimeout };

struct DeviceBehavior {
  DeviceBehaviorKind kind = DeviceBehaviorKind::kSucceed;
  int percent = 50;       // kFail: where it fails; kTimeout: where it stalls. 0..99.
  std::string task_desc;  // kFail: the FAILED task's TaskDesc
};

inline constexpr int kDefaultBehaviorPercent = 50;
inline constexpr char kDefaultFailDesc[] = "Device reported an update failure.";

// The seed's description of a behaviour; INVALID_ARGUMENT names what is wrong (an unknown
// behaviour, a percent outside 0..99, a field the behaviour does not take).
absl::StatusOr<DeviceBehavior> ParseDeviceBehavior(const SeedDeviceBehavior& seed);

// Everything that decides a task's course, fixed when the job is created.
struct TaskPlan {
  DeviceBehavior behavior;
  absl::Time created;
  bool need_confirm = false;
  std::optional<int> timeout_in_minutes;
};

// One task as ListOTATaskByJob reports it.
struct TaskState {
  std::string status;     // one of the kTask* values
  int progress = 0;       // 0..100
  std::string desc;       // TaskDesc
  absl::Time modified;    // the last change of status or progress
  bool finished = false;  // SUCCEEDED, FAILED or CANCELED: it changes no more
};

// The task of `plan` at `now`. Times before plan.created read as the creation instant.
TaskState SimulateTask(const TaskPlan& plan, const SimulationSettings& settings, absl::Time now);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_DEVICE_SIMULATION_H_
