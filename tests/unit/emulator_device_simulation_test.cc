// SimulateTask's timelines, ParseDeviceBehavior and the seed's device_behaviors checks.
#include <string>

#include "absl/time/time.h"
#include "emulator/device_simulation.h"
#include "emulator/seed.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1716193800);

// 10 s per update: NOTIFIED for 1 s, then 9 s from 0 to 100 %.
SimulationSettings TenSeconds() {
  SimulationSettings settings;
  settings.device_update_time = absl::Seconds(10);
  return settings;
}

TaskPlan Plan(DeviceBehaviorKind kind, int percent = 50) {
  TaskPlan plan;
  plan.behavior.kind = kind;
  plan.behavior.percent = percent;
  plan.behavior.task_desc = "boom";
  plan.created = kT0;
  return plan;
}

TEST(EmulatorDeviceSimulation, SucceedingTaskTimeline) {
  const TaskPlan plan = Plan(DeviceBehaviorKind::kSucceed);
  const SimulationSettings s = TenSeconds();
  EXPECT_EQ(SimulateTask(plan, s, kT0).status, kTaskNotified);
  EXPECT_EQ(SimulateTask(plan, s, kT0 - absl::Seconds(5)).status, kTaskNotified);
  EXPECT_EQ(SimulateTask(plan, s, kT0 + absl::Milliseconds(999)).status, kTaskNotified);
  TaskState state = SimulateTask(plan, s, kT0 + absl::Seconds(1));
  EXPECT_EQ(state.status, kTaskInProgress);
  EXPECT_EQ(state.progress, 0);
  state = SimulateTask(plan, s, kT0 + absl::Milliseconds(1090));
  EXPECT_EQ(state.progress, 1);
  EXPECT_EQ(state.modified, kT0 + absl::Milliseconds(1090));
  state = SimulateTask(plan, s, kT0 + absl::Milliseconds(1100));
  EXPECT_EQ(state.progress, 1);
  EXPECT_EQ(state.modified, kT0 + absl::Milliseconds(1090));  // when 1 % was reached
  state = SimulateTask(plan, s, kT0 + absl::Seconds(10));
  EXPECT_EQ(state.status, kTaskSucceeded);
  EXPECT_EQ(state.progress, 100);
  EXPECT_TRUE(state.finished);
  EXPECT_EQ(state.modified, kT0 + absl::Seconds(10));
}

TEST(EmulatorDeviceSimulation, FailAtZeroFailsWhenTheUpdateStarts) {
  const TaskState state =
      SimulateTask(Plan(DeviceBehaviorKind::kFail, 0), TenSeconds(), kT0 + absl::Seconds(1));
  EXPECT_EQ(state.status, kTaskFailed);
  EXPECT_EQ(state.progress, 0);
  EXPECT_EQ(state.desc, "boom");
}

TEST(EmulatorDeviceSimulation, TimeoutBeforeTheUpdateStartsFailsAtZero) {
  TaskPlan plan = Plan(DeviceBehaviorKind::kTimeout);
  plan.timeout_in_minutes = 1;
  SimulationSettings s = TenSeconds();
  s.emulated_minute = absl::Milliseconds(500);
  const TaskState state = SimulateTask(plan, s, kT0 + absl::Seconds(3));
  EXPECT_EQ(state.status, kTaskFailed);
  EXPECT_EQ(state.progress, 0);
  EXPECT_EQ(state.modified, kT0 + absl::Milliseconds(500));
}

TEST(EmulatorDeviceSimulation, ATimeoutAfterTheEndChangesNothing) {
  TaskPlan plan = Plan(DeviceBehaviorKind::kSucceed);
  plan.timeout_in_minutes = 10;  // 10 s, the same instant the update ends: success wins
  const TaskState state = SimulateTask(plan, TenSeconds(), kT0 + absl::Seconds(60));
  EXPECT_EQ(state.status, kTaskSucceeded);
}

TEST(EmulatorDeviceSimulation, OfflineAndConfirmTasksNeverMoveOrTimeOut) {
  TaskPlan offline = Plan(DeviceBehaviorKind::kOffline);
  offline.timeout_in_minutes = 1;
  EXPECT_EQ(SimulateTask(offline, TenSeconds(), kT0 + absl::Hours(1)).status, kTaskQueued);
  TaskPlan confirm = Plan(DeviceBehaviorKind::kFail);
  confirm.need_confirm = true;
  confirm.timeout_in_minutes = 1;
  const TaskState state = SimulateTask(confirm, TenSeconds(), kT0 + absl::Hours(1));
  EXPECT_EQ(state.status, kTaskConfirm);
  EXPECT_FALSE(state.finished);
}

TEST(EmulatorDeviceSimulation, TaskStatusesAreTheSevenOfTheApi) {
  for (const char* s :
       {"CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED"}) {
    EXPECT_TRUE(IsTaskStatus(s)) << s;
  }
  EXPECT_FALSE(IsTaskStatus("in_progress"));
  EXPECT_FALSE(IsTaskStatus(""));
}

TEST(EmulatorDeviceSimulation, SettingsMustBePositive) {
  SimulationSettings s;
  EXPECT_TRUE(ValidateSimulationSettings(s).ok());
  s.emulated_minute = absl::ZeroDuration();
  EXPECT_EQ(ValidateSimulationSettings(s).code(), absl::StatusCode::kInvalidArgument);
  s = SimulationSettings();
  s.device_update_time = -absl::Seconds(1);
  EXPECT_EQ(ValidateSimulationSettings(s).code(), absl::StatusCode::kInvalidArgument);
}

absl::Status SeedWithBehaviors(const std::string& behaviors) {
  return ParseSeedJson(
             R"({"products":[{"product_key":"p","devices":["d1","d2"],"device_behaviors":)" +
             behaviors + "}]}")
      .status();
}

TEST(EmulatorSeedBehaviors, ValidBehaviorsParseWithDefaults) {
  EXPECT_TRUE(SeedWithBehaviors(R"({"d1":{"behavior":"fail"},"d2":{"behavior":"timeout",
                                    "percent":0}})")
                  .ok());
  EXPECT_TRUE(SeedWithBehaviors(R"({"d1":{},"d2":{"behavior":"offline"}})").ok());
  SeedDeviceBehavior fail;
  fail.set_behavior("fail");
  const absl::StatusOr<DeviceBehavior> parsed = ParseDeviceBehavior(fail);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->kind, DeviceBehaviorKind::kFail);
  EXPECT_EQ(parsed->percent, kDefaultBehaviorPercent);
  EXPECT_EQ(parsed->task_desc, kDefaultFailDesc);
  // A seed without behaviours still works: every device succeeds.
  EXPECT_TRUE(ParseSeedJson(R"({"products":[{"product_key":"p","devices":["d1"]}]})").ok());
}

TEST(EmulatorSeedBehaviors, InvalidBehaviorsFailTheSeed) {
  struct Case {
    const char* behaviors;
    const char* want;
  };
  for (const Case& c : {
           Case{R"({"d9":{"behavior":"fail"}})", "not in its \"devices\""},
           Case{R"({"d1":{"behavior":"explode"}})", "unknown behavior"},
           Case{R"({"d1":{"behavior":"fail","percent":100}})", "outside 0..99"},
           Case{R"({"d1":{"behavior":"timeout","percent":-1}})", "outside 0..99"},
           Case{R"({"d1":{"behavior":"succeed","percent":10}})", "takes no percent"},
           Case{R"({"d1":{"behavior":"offline","task_desc":"x"}})", "takes no task_desc"},
           Case{R"({"d1":{"behaviour":"fail"}})", "behaviour"},
       }) {
    const absl::Status status = SeedWithBehaviors(c.behaviors);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.behaviors;
    EXPECT_THAT(status.message(), HasSubstr(c.want)) << c.behaviors;
  }
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify
