#include "emulator/device_simulation.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace otaverify {
namespace emulator {

bool IsTaskStatus(const std::string& status) {
  for (const char* known : {kTaskConfirm, kTaskQueued, kTaskNotified, kTaskInProgress,
                            kTaskSucceeded, kTaskFailed, kTaskCanceled}) {
    if (status == known) return true;
  }
  return false;
}

absl::Status ValidateSimulationSettings(const SimulationSettings& settings) {
  if (settings.device_update_time <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("device_update_time must be positive");
  }
  if (settings.emulated_minute <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("emulated_minute must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<DeviceBehavior> ParseDeviceBehavior(const SeedDeviceBehavior& seed) {
  DeviceBehavior behavior;
  const std::string& name = seed.behavior();
  if (name.empty() || name == "succeed") {
    behavior.kind = DeviceBehaviorKind::kSucceed;
  } else if (name == "fail") {
    behavior.kind = DeviceBehaviorKind::kFail;
  } else if (name == "offline") {
    behavior.kind = DeviceBehaviorKind::kOffline;
  } else if (name == "timeout") {
    behavior.kind = DeviceBehaviorKind::kTimeout;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown behavior \"", name, "\", want succeed, fail, offline or timeout"));
  }
  const bool takes_percent =
      behavior.kind == DeviceBehaviorKind::kFail || behavior.kind == DeviceBehaviorKind::kTimeout;
  if (seed.has_percent()) {
    if (!takes_percent) {
      return absl::InvalidArgumentError(
          absl::StrCat("behavior \"", name, "\" takes no percent (fail and timeout do)"));
    }
    if (seed.percent() < 0 || seed.percent() > 99) {
      return absl::InvalidArgumentError(
          absl::StrCat("percent ", seed.percent(), " is outside 0..99"));
    }
    behavior.percent = seed.percent();
  } else {
    behavior.percent = kDefaultBehaviorPercent;
  }
  if (!seed.task_desc().empty() && behavior.kind != DeviceBehaviorKind::kFail) {
    return absl::InvalidArgumentError(
        absl::StrCat("behavior \"", name, "\" takes no task_desc (fail does)"));
  }
  if (behavior.kind == DeviceBehaviorKind::kFail) {
    behavior.task_desc = seed.task_desc().empty() ? kDefaultFailDesc : seed.task_desc();
  }
  return behavior;
}

TaskState SimulateTask(const TaskPlan& plan, const SimulationSettings& settings, absl::Time now) {
  const absl::Time t0 = plan.created;
  now = std::max(now, t0);
  if (plan.need_confirm) {
    // There is no confirm API (the owner's app confirms through the device SDK), so the task
    // waits until it is canceled.
    return TaskState{kTaskConfirm, 0, "Waiting for the update to be confirmed.", t0, false};
  }
  if (plan.behavior.kind == DeviceBehaviorKind::kOffline) {
    return TaskState{kTaskQueued, 0, "Waiting for the device to come online.", t0, false};
  }

  // Whole microseconds keep the arithmetic exact and integer.
  const int64_t total_us =
      std::max<int64_t>(1, absl::ToInt64Microseconds(settings.device_update_time));
  const int64_t notify_us = total_us / 10;        // NOTIFIED, then IN_PROGRESS
  const int64_t climb_us = total_us - notify_us;  // >= 1
  // When the progress first reads `percent`.
  auto reached_us = [&](int percent) { return notify_us + (climb_us * percent + 99) / 100; };

  const bool finishes = plan.behavior.kind != DeviceBehaviorKind::kTimeout;
  const int target =
      plan.behavior.kind == DeviceBehaviorKind::kSucceed ? 100 : plan.behavior.percent;
  const int64_t end_us = reached_us(target);  // succeeds, fails or stalls here
  const absl::Time end = t0 + absl::Microseconds(end_us);

  // The state at `t` were there no timeout.
  auto untimed = [&](absl::Time t) -> TaskState {
    const int64_t elapsed_us = std::min(absl::ToInt64Microseconds(t - t0), total_us);
    if (elapsed_us < notify_us) {
      return TaskState{kTaskNotified, 0, "The update notice was pushed to the device.", t0, false};
    }
    if (finishes && elapsed_us >= end_us) {
      if (plan.behavior.kind == DeviceBehaviorKind::kSucceed) {
        return TaskState{kTaskSucceeded, 100, "The device was updated.", end, true};
      }
      return TaskState{kTaskFailed, target, plan.behavior.task_desc, end, true};
    }
    const int progress =
        std::min<int>(target, static_cast<int>((elapsed_us - notify_us) * 100 / climb_us));
    return TaskState{kTaskInProgress, progress, "The device is updating.",
                     t0 + absl::Microseconds(reached_us(progress)), false};
  };

  if (plan.timeout_in_minutes.has_value()) {
    const absl::Time deadline = t0 + settings.emulated_minute * *plan.timeout_in_minutes;
    if (now >= deadline && (!finishes || deadline < end)) {
      return TaskState{kTaskFailed, untimed(deadline).progress,
                       absl::StrCat("The device update timed out (TimeoutInMinutes ",
                                    *plan.timeout_in_minutes, ")."),
                       deadline, true};
    }
  }
  return untimed(now);
}

}  // namespace emulator
}  // namespace otaverify
