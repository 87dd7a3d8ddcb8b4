// The verify workflow against the in-process emulator: simulated devices (each behaviour),
// job and firmware status over time, QueryOTAJob, ListOTATaskByJob (paging, filters, shapes)
// and CancelOTATaskByJob — all on a ManualClock, so every state is exact.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "aliyun/iot/v1/iot.pb.h"
#include "emulator/emulator_server.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Struct = google::protobuf::Struct;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

// device_update_time 10 s: NOTIFIED for 1 s, then 9 s climbing 0 -> 100 %, so the progress
// at t0 + 1 s + 9 s * p / 100 is p. fail stops at 40 % (t0 + 4.6 s), slow stalls at 30 %
// (t0 + 3.7 s).
constexpr char kSeed[] = R"({
  "instances": ["inst-1"],
  "products": [
    {"product_key": "p",
     "devices": ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
                 "fail", "off", "slow"],
     "device_behaviors": {
       "fail": {"behavior": "fail", "percent": 40,
                "task_desc": "checksum mismatch after download"},
       "off": {"behavior": "offline"},
       "slow": {"behavior": "timeout", "percent": 30},
       "s2": {"behavior": "succeed"}
     },
     "firmwares": [
       {"firmware_id": "fw-1", "status": 0, "src_version": "1.0.0", "dest_version": "1.1.0"},
       {"firmware_id": "fw-2", "status": 0},
       {"firmware_id": "fw-3", "status": 0}]},
    {"product_key": "ent", "iot_instance_id": "inst-1", "devices": ["e1"],
     "firmwares": [{"firmware_id": "fw-ent", "status": 0}]}
  ]
})";

const google::protobuf::Value& Field(const Struct& s, const std::string& key) {
  static const google::protobuf::Value* const kAbsent = new google::protobuf::Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *kAbsent : it->second;
}

std::string Utc(absl::Duration after_now) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", kNow + after_now, absl::UTCTimeZone());
}

struct Result {
  int status = 0;
  std::string body;
  Struct json;
  std::string Str(const std::string& key) const { return Field(json, key).string_value(); }
  double Num(const std::string& key) const { return Field(json, key).number_value(); }
  bool Success() const { return Field(json, "Success").bool_value(); }
  Struct Data() const { return Field(json, "Data").struct_value(); }
  // Data.SimpleOTATaskInfo[i].
  std::vector<Struct> Tasks() const {
    std::vector<Struct> tasks;
    const Struct data = Data();
    for (const auto& v : Field(data, "SimpleOTATaskInfo").list_value().values()) {
      tasks.push_back(v.struct_value());
    }
    return tasks;
  }
};

std::string S(const Struct& s, const std::string& key) { return Field(s, key).string_value(); }

class EmulatorWorkflow : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Seed> seed = ParseSeedJson(kSeed);
    ASSERT_TRUE(seed.ok()) << seed.status();
    StartServer(*seed, absl::Seconds(10));
  }

  void StartServer(const Seed& seed, absl::Duration update_time) {
    client_.reset();
    server_.reset();
    EmulatorOptions options;
    options.seed = seed;
    options.worker_threads = 4;
    options.simulation.device_update_time = update_time;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  Result Call(const std::string& action, Params params,
              SignatureVersion version = SignatureVersion::kV3) {
    RpcCall call;
    call.action = action;
    call.params = std::move(params);
    const auto reply =
        client_->Call(call, version, clock_.Now(), absl::StrCat("nonce-", ++nonce_counter_));
    Result result;
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!reply.ok()) return result;
    result.status = reply->status;
    result.body = reply->body;
    auto json = TestClient::ParseJson(reply->body);
    EXPECT_TRUE(json.ok()) << json.status() << reply->body;
    if (json.ok()) result.json = *json;
    return result;
  }

  // Creates a verify job of product p; its JobId.
  std::string Create(const std::string& firmware, const std::vector<std::string>& devices,
                     Params extra = {}) {
    Params params = {{"FirmwareId", firmware}, {"ProductKey", "p"}};
    for (size_t i = 0; i < devices.size(); ++i) {
      params.emplace_back(absl::StrCat("TargetDeviceName.", i + 1), devices[i]);
    }
    for (auto& p : extra) params.push_back(std::move(p));
    const Result r = Call("CreateOTAVerifyJob", params);
    EXPECT_TRUE(r.Success()) << r.body;
    return S(r.Data(), "JobId");
  }

  Result QueryJob(const std::string& job_id) { return Call("QueryOTAJob", {{"JobId", job_id}}); }
  std::string JobStatus(const std::string& job_id) {
    return S(QueryJob(job_id).Data(), "JobStatus");
  }
  Result ListTasks(const std::string& job_id, const std::string& page = "1",
                   const std::string& size = "100", Params extra = {}) {
    Params params = {{"JobId", job_id}, {"CurrentPage", page}, {"PageSize", size}};
    for (auto& p : extra) params.push_back(std::move(p));
    return Call("ListOTATaskByJob", params);
  }
  // The only task of a one-device job (or the first task).
  Struct Task(const std::string& job_id) {
    const std::vector<Struct> tasks = ListTasks(job_id).Tasks();
    EXPECT_FALSE(tasks.empty());
    return tasks.empty() ? Struct() : tasks[0];
  }
  Result Cancel(const std::string& job_id, Params flags) {
    flags.emplace_back("JobId", job_id);
    return Call("CancelOTATaskByJob", flags);
  }
  Struct Firmware(const std::string& firmware) {
    const Result r = Call("QueryOTAFirmware", {{"FirmwareId", firmware}});
    EXPECT_TRUE(r.Success()) << r.body;
    return Field(r.json, "FirmwareInfo").struct_value();
  }
  TestReply Hook(const std::string& method, const std::string& path, const std::string& body) {
    HttpRequest request;
    request.method = method;
    request.url = path;
    request.body = body;
    const auto reply = TestClient(server_->port()).Send(request);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : TestReply{};
  }
  void At(absl::Duration after_creation) { clock_.Set(kNow + after_creation); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
  int nonce_counter_ = 0;
};

// --- simulated devices --------------------------------------------------------------------

TEST_F(EmulatorWorkflow, SucceedingDeviceIsNotifiedThenClimbsLinearlyToSucceeded) {
  const std::string job = Create("fw-1", {"s1"});
  Struct task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "NOTIFIED");
  EXPECT_EQ(S(task, "Progress"), "0.00");
  EXPECT_EQ(S(task, "UtcModified"), Utc(absl::ZeroDuration()));

  At(absl::Seconds(1));
  task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(task, "Progress"), "0.00");

  At(absl::Milliseconds(5500));
  task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(task, "Progress"), "50.00");
  EXPECT_EQ(S(task, "UtcModified"), Utc(absl::Milliseconds(5500)));
  EXPECT_EQ(S(task, "UtcCreate"), Utc(absl::ZeroDuration()));

  At(absl::Milliseconds(9999));
  EXPECT_EQ(S(Task(job), "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(Task(job), "Progress"), "99.00");

  At(absl::Seconds(10));
  task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "SUCCEEDED");
  EXPECT_EQ(S(task, "Progress"), "100.00");
  EXPECT_EQ(S(task, "UtcModified"), Utc(absl::Seconds(10)));

  At(absl::Hours(5));  // finished tasks change no more
  EXPECT_EQ(S(Task(job), "UtcModified"), Utc(absl::Seconds(10)));
}

TEST_F(EmulatorWorkflow, JobAndFirmwareFollowTheTasksToCompletedAndVerified) {
  const std::string job = Create("fw-1", {"s1", "s2"});
  Struct data = QueryJob(job).Data();
  EXPECT_EQ(S(data, "JobStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(data, "UtcStartTime"), Utc(absl::ZeroDuration()));
  EXPECT_EQ(data.fields().count("UtcEndTime"), 0u);
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareVerifying);

  At(absl::Milliseconds(5500));
  const Struct firmware = Firmware("fw-1");
  EXPECT_EQ(Field(firmware, "Status").number_value(), kFirmwareVerifying);
  EXPECT_EQ(Field(firmware, "VerifyProgress").number_value(), 50);
  EXPECT_EQ(S(QueryJob(job).Data(), "JobStatus"), "IN_PROGRESS");

  At(absl::Seconds(12));
  data = QueryJob(job).Data();
  EXPECT_EQ(S(data, "JobStatus"), "COMPLETED");
  EXPECT_EQ(S(data, "UtcEndTime"), Utc(absl::Seconds(10)));
  EXPECT_EQ(S(data, "UtcModified"), Utc(absl::Seconds(10)));
  const Struct verified = Firmware("fw-1");
  EXPECT_EQ(Field(verified, "Status").number_value(), kFirmwareVerified);
  EXPECT_EQ(Field(verified, "VerifyProgress").number_value(), 100);
  EXPECT_EQ(S(verified, "UtcModified"), Utc(absl::Seconds(10)));
  EXPECT_EQ(server_->state().FirmwareStatus("p", "fw-1"), kFirmwareVerified);
  // Listed with its current status too.
  const Result listed = Call("ListOTAJobByFirmware",
                             {{"FirmwareId", "fw-1"}, {"CurrentPage", "1"}, {"PageSize", "10"}});
  ASSERT_EQ(listed.Num("Total"), 1);
  const Struct item =
      Field(listed.Data(), "SimpleOTAJobInfo").list_value().values(0).struct_value();
  EXPECT_EQ(S(item, "JobStatus"), "COMPLETED");
  EXPECT_EQ(S(item, "UtcModified"), Utc(absl::Seconds(10)));
  // A verified package takes no new verify job.
  EXPECT_EQ(Call("CreateOTAVerifyJob",
                 {{"FirmwareId", "fw-1"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "s1"}})
                .Str("Code"),
            "iot.ota.FirmwareAlreadyVerified");
}

TEST_F(EmulatorWorkflow, FailingDeviceFailsAtItsPercentAndFailsTheVerification) {
  const std::string job = Create("fw-1", {"s1", "fail"});
  At(absl::Seconds(4));
  std::vector<Struct> tasks = ListTasks(job).Tasks();
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(S(tasks[1], "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(tasks[1], "Progress"), "33.00");

  At(absl::Milliseconds(4600));
  tasks = ListTasks(job).Tasks();
  EXPECT_EQ(S(tasks[1], "TaskStatus"), "FAILED");
  EXPECT_EQ(S(tasks[1], "Progress"), "40.00");
  EXPECT_EQ(S(tasks[1], "TaskDesc"), "checksum mismatch after download");
  EXPECT_EQ(S(tasks[1], "UtcModified"), Utc(absl::Milliseconds(4600)));
  EXPECT_EQ(Field(Firmware("fw-1"), "VerifyProgress").number_value(), 40);  // (40 + 40) / 2
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");                                 // s1 still updating

  At(absl::Seconds(30));
  tasks = ListTasks(job).Tasks();
  EXPECT_EQ(S(tasks[0], "TaskStatus"), "SUCCEEDED");
  EXPECT_EQ(S(tasks[1], "Progress"), "40.00");  // frozen
  EXPECT_EQ(JobStatus(job), "COMPLETED");
  const Struct firmware = Firmware("fw-1");
  EXPECT_EQ(Field(firmware, "Status").number_value(), kFirmwareVerifyFailed);
  EXPECT_EQ(Field(firmware, "VerifyProgress").number_value(), 100);
  // A failed verification may be retried.
  EXPECT_NE(Create("fw-1", {"s1"}), "");
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareVerifying);
}

TEST_F(EmulatorWorkflow, OfflineDeviceStaysQueuedAndKeepsTheJobInProgress) {
  const std::string job = Create("fw-1", {"off", "s1"});
  At(absl::Hours(24));
  const std::vector<Struct> tasks = ListTasks(job).Tasks();
  EXPECT_EQ(S(tasks[0], "TaskStatus"), "QUEUED");
  EXPECT_EQ(S(tasks[0], "Progress"), "0.00");
  EXPECT_EQ(S(tasks[0], "UtcModified"), Utc(absl::ZeroDuration()));
  EXPECT_EQ(S(tasks[1], "TaskStatus"), "SUCCEEDED");
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareVerifying);
  EXPECT_EQ(Field(Firmware("fw-1"), "VerifyProgress").number_value(), 50);
}

TEST_F(EmulatorWorkflow, TimeoutDeviceStallsThenFailsWhenTheJobTimeoutElapses) {
  const std::string job = Create("fw-1", {"slow"}, {{"TimeoutInMinutes", "20"}});
  At(absl::Milliseconds(3700));
  EXPECT_EQ(S(Task(job), "Progress"), "30.00");
  At(absl::Seconds(19));  // an emulated minute is 1 s: 20 minutes are 20 s
  Struct task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(task, "Progress"), "30.00");
  EXPECT_EQ(S(task, "UtcModified"), Utc(absl::Milliseconds(3700)));
  EXPECT_EQ(S(task, "Timeout"), "20");

  At(absl::Seconds(20));
  task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "FAILED");
  EXPECT_EQ(S(task, "Progress"), "30.00");
  EXPECT_THAT(S(task, "TaskDesc"), HasSubstr("timed out"));
  EXPECT_EQ(S(task, "UtcModified"), Utc(absl::Seconds(20)));
  EXPECT_EQ(JobStatus(job), "COMPLETED");
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareVerifyFailed);
}

TEST_F(EmulatorWorkflow, TimeoutDeviceWithoutAJobTimeoutStaysInProgress) {
  const std::string job = Create("fw-1", {"slow"});
  At(absl::Hours(24));
  const Struct task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "IN_PROGRESS");
  EXPECT_EQ(S(task, "Progress"), "30.00");
  EXPECT_EQ(task.fields().count("Timeout"), 0u);
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");
}

TEST_F(EmulatorWorkflow, JobTimeoutAlsoFailsASucceedingDeviceThatIsTooSlow) {
  const std::string job = Create("fw-1", {"s1"}, {{"TimeoutInMinutes", "5"}});
  At(absl::Seconds(5));
  const Struct task = Task(job);
  EXPECT_EQ(S(task, "TaskStatus"), "FAILED");
  EXPECT_EQ(S(task, "Progress"), "44.00");  // (5 s - 1 s) of 9 s
  EXPECT_THAT(S(task, "TaskDesc"), HasSubstr("timed out"));
}

TEST_F(EmulatorWorkflow, EmulatedMinuteIsConfigurable) {
  absl::StatusOr<Seed> seed = ParseSeedJson(kSeed);
  ASSERT_TRUE(seed.ok());
  client_.reset();
  server_.reset();
  EmulatorOptions options;
  options.seed = *seed;
  options.worker_threads = 4;
  options.simulation.emulated_minute = absl::Milliseconds(100);
  server_ = std::make_unique<EmulatorServer>(options, &clock_);
  ASSERT_TRUE(server_->Start().ok());
  client_ = std::make_unique<TestClient>(server_->port());
  const std::string job = Create("fw-1", {"slow"}, {{"TimeoutInMinutes", "20"}});
  At(absl::Milliseconds(1999));
  EXPECT_EQ(S(Task(job), "TaskStatus"), "IN_PROGRESS");
  At(absl::Seconds(2));
  EXPECT_EQ(S(Task(job), "TaskStatus"), "FAILED");
}

TEST_F(EmulatorWorkflow, NeedConfirmTasksWaitInConfirm) {
  const std::string job = Create("fw-1", {"s1", "fail"}, {{"NeedConfirm", "true"}});
  At(absl::Hours(1));
  for (const Struct& task : ListTasks(job).Tasks()) {
    EXPECT_EQ(S(task, "TaskStatus"), "CONFIRM");
    EXPECT_EQ(S(task, "Progress"), "0.00");
  }
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");
  EXPECT_TRUE(Cancel(job, {{"CancelUnconfirmedTask", "true"}}).Success());
  for (const Struct& task : ListTasks(job).Tasks()) EXPECT_EQ(S(task, "TaskStatus"), "CANCELED");
  EXPECT_EQ(JobStatus(job), "CANCELED");
}

// --- QueryOTAJob and ListOTATaskByJob shapes ----------------------------------------------

TEST_F(EmulatorWorkflow, QueryOtaJobAnswersEveryFieldAndParsesAsTheGatewayParsesIt) {
  const std::string job = Create("fw-1", {"s1"},
                                 {{"TimeoutInMinutes", "15"},
                                  {"NeedPush", "false"},
                                  {"DownloadProtocol", "MQTT"},
                                  {"Tag.1.Key", "env"},
                                  {"Tag.1.Value", "staging"},
                                  {"Tag.2.Key", "k2"},
                                  {"Tag.2.Value", "v2"}});
  const Result r = QueryJob(job);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Success());
  EXPECT_NE(r.Str("RequestId"), "");
  const Struct data = r.Data();
  EXPECT_EQ(S(data, "JobId"), job);
  EXPECT_EQ(S(data, "JobType"), "VERFIY_FIRMWARE");
  EXPECT_EQ(S(data, "FirmwareId"), "fw-1");
  EXPECT_EQ(S(data, "ProductKey"), "p");
  EXPECT_EQ(S(data, "SrcVersion"), "1.0.0");
  EXPECT_EQ(S(data, "DestVersion"), "1.1.0");
  EXPECT_TRUE(Field(data, "TimeoutInMinutes").has_number_value());
  EXPECT_EQ(Field(data, "TimeoutInMinutes").number_value(), 15);
  EXPECT_TRUE(Field(data, "NeedPush").has_bool_value());
  EXPECT_FALSE(Field(data, "NeedPush").bool_value());
  EXPECT_FALSE(Field(data, "NeedConfirm").bool_value());
  EXPECT_EQ(S(data, "DownloadProtocol"), "MQTT");
  const auto& tags = Field(Field(data, "Tags").struct_value(), "OtaTagDTO").list_value();
  ASSERT_EQ(tags.values_size(), 2);
  EXPECT_EQ(S(tags.values(0).struct_value(), "Key"), "env");
  EXPECT_EQ(S(tags.values(0).struct_value(), "Value"), "staging");
  EXPECT_EQ(S(tags.values(1).struct_value(), "Key"), "k2");
  EXPECT_EQ(S(data, "UtcCreate"), "2024-05-20T08:30:00.000Z");
  EXPECT_EQ(S(data, "UtcModified"), "2024-05-20T08:30:00.000Z");
  EXPECT_EQ(S(data, "UtcStartTime"), "2024-05-20T08:30:00.000Z");
  EXPECT_EQ(data.fields().count("UtcEndTime"), 0u);
  EXPECT_EQ(data.fields().count("UtcScheduleFinishTime"), 0u);
  EXPECT_NE(S(data, "JobDesc"), "");
  EXPECT_EQ(S(data, "SelectionType"), "STATIC");
  EXPECT_EQ(S(data, "TargetSelection"), "SPECIFIC");

  aliyun::iot::v1::QueryOTAJobResponse parsed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &parsed, options).ok());
  EXPECT_EQ(parsed.data().job_id(), job);
  EXPECT_EQ(parsed.data().job_status(), "IN_PROGRESS");
  EXPECT_EQ(parsed.data().timeout_in_minutes(), 15);
  EXPECT_FALSE(parsed.data().need_push());
  ASSERT_EQ(parsed.data().tags().ota_tag_dto_size(), 2);
  EXPECT_EQ(parsed.data().tags().ota_tag_dto(1).value(), "v2");
}

TEST_F(EmulatorWorkflow, QueryOtaJobLeavesOutWhatTheJobDoesNotHave) {
  const std::string job = Create("fw-2", {"s1"});
  const Struct data = QueryJob(job).Data();
  EXPECT_EQ(data.fields().count("TimeoutInMinutes"), 0u);
  EXPECT_EQ(data.fields().count("Tags"), 0u);
  EXPECT_EQ(data.fields().count("SrcVersion"), 0u);
  EXPECT_EQ(S(data, "DestVersion"), "1.0.0");
  EXPECT_TRUE(Field(data, "NeedPush").bool_value());
  EXPECT_EQ(S(data, "DownloadProtocol"), "HTTPS");
}

TEST_F(EmulatorWorkflow, ListOtaTaskByJobAnswersTheServiceShapeWithProgressAsAString) {
  const std::string job = Create("fw-1", {"s1", "s2"}, {{"TimeoutInMinutes", "60"}});
  At(absl::Milliseconds(5500));
  const Result r = ListTasks(job, "1", "10");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Success());
  EXPECT_EQ(r.Num("Total"), 2);
  EXPECT_EQ(r.Num("PageSize"), 10);
  EXPECT_EQ(r.Num("PageCount"), 1);
  EXPECT_EQ(r.Num("CurrentPage"), 1);
  EXPECT_THAT(r.body, HasSubstr(R"("Progress":"50.00")"));
  EXPECT_THAT(r.body, HasSubstr(R"("Data":{"SimpleOTATaskInfo":[{)"));
  const std::vector<Struct> tasks = r.Tasks();
  ASSERT_EQ(tasks.size(), 2u);
  const Struct& t = tasks[0];
  EXPECT_EQ(S(t, "DeviceName"), "s1");
  EXPECT_EQ(S(tasks[1], "DeviceName"), "s2");
  EXPECT_EQ(S(t, "TaskId").size(), 20u);
  EXPECT_NE(S(t, "TaskId"), S(tasks[1], "TaskId"));
  EXPECT_EQ(S(t, "IotId").size(), 26u);
  EXPECT_NE(S(t, "IotId"), S(tasks[1], "IotId"));
  EXPECT_EQ(S(t, "ProductKey"), "p");
  EXPECT_EQ(S(t, "JobId"), job);
  EXPECT_EQ(S(t, "FirmwareId"), "fw-1");
  EXPECT_EQ(S(t, "SrcVersion"), "1.0.0");
  EXPECT_EQ(S(t, "DestVersion"), "1.1.0");
  EXPECT_TRUE(Field(t, "Progress").has_string_value());
  EXPECT_EQ(S(t, "TaskStatus"), "IN_PROGRESS");
  EXPECT_NE(S(t, "TaskDesc"), "");
  EXPECT_TRUE(Field(t, "Timeout").has_string_value());
  EXPECT_EQ(S(t, "Timeout"), "60");
  EXPECT_EQ(S(t, "UtcCreate"), Utc(absl::ZeroDuration()));
  EXPECT_EQ(S(t, "UtcModified"), Utc(absl::Milliseconds(5500)));
  // TaskIds and IotIds are stable.
  EXPECT_EQ(S(ListTasks(job).Tasks()[0], "TaskId"), S(t, "TaskId"));
  const std::string other = Create("fw-2", {"s1"});
  EXPECT_EQ(S(Task(other), "IotId"), S(t, "IotId"));
  EXPECT_NE(S(Task(other), "TaskId"), S(t, "TaskId"));

  aliyun::iot::v1::ListOTATaskByJobResponse parsed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &parsed, options).ok());
  ASSERT_EQ(parsed.data().simple_ota_task_info_size(), 2);
  EXPECT_DOUBLE_EQ(parsed.data().simple_ota_task_info(0).progress(), 50.0);
  EXPECT_EQ(parsed.total(), 2);
  EXPECT_EQ(parsed.page_size(), 10);
}

TEST_F(EmulatorWorkflow, V1CallsOfTheNewActionsWorkToo) {
  const std::string job = Create("fw-1", {"s1"});
  EXPECT_TRUE(Call("QueryOTAJob", {{"JobId", job}}, SignatureVersion::kV1).Success());
  const Result r =
      Call("ListOTATaskByJob", {{"JobId", job}, {"CurrentPage", "1"}, {"PageSize", "5"}},
           SignatureVersion::kV1);
  EXPECT_EQ(r.Tasks().size(), 1u);
  EXPECT_TRUE(Call("CancelOTATaskByJob", {{"JobId", job}, {"CancelNotifiedTask", "true"}},
                   SignatureVersion::kV1)
                  .Success());
  EXPECT_EQ(JobStatus(job), "CANCELED");
}

// --- paging -------------------------------------------------------------------------------

TEST_F(EmulatorWorkflow, TenTasksWithMaxPageSizeThreeTakeFourPages) {
  const std::vector<std::string> devices = {"s1", "s2", "s3", "s4", "s5",
                                            "s6", "s7", "s8", "s9", "s10"};
  const std::string job = Create("fw-1", devices);
  const TestReply set = Hook("POST", "/_emulator/paging", R"({"max_page_size":3})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.body, R"({"max_page_size":3})");
  EXPECT_EQ(Hook("GET", "/_emulator/paging", "").body, R"({"max_page_size":3})");

  std::vector<std::string> names;
  std::set<std::string> task_ids;
  for (int page = 1; page <= 4; ++page) {
    const Result r = ListTasks(job, absl::StrCat(page), "10");
    ASSERT_TRUE(r.Success()) << r.body;
    EXPECT_EQ(r.Num("Total"), 10);
    EXPECT_EQ(r.Num("PageSize"), 3);
    EXPECT_EQ(r.Num("PageCount"), 4);
    EXPECT_EQ(r.Num("CurrentPage"), page);
    const std::vector<Struct> tasks = r.Tasks();
    EXPECT_EQ(tasks.size(), page < 4 ? 3u : 1u);
    for (const Struct& t : tasks) {
      names.push_back(S(t, "DeviceName"));
      task_ids.insert(S(t, "TaskId"));
    }
  }
  EXPECT_EQ(names, devices);  // every task once, in the job's device order
  EXPECT_EQ(task_ids.size(), 10u);
  EXPECT_TRUE(ListTasks(job, "5", "10").Tasks().empty());  // past the end: empty
  // A smaller request than the cap is honoured.
  EXPECT_EQ(ListTasks(job, "1", "2").Num("PageSize"), 2);
  EXPECT_EQ(ListTasks(job, "1", "2").Num("PageCount"), 5);

  // Reset restores the start-up cap.
  ASSERT_EQ(Hook("POST", "/_emulator/reset", "").status, 200);
  EXPECT_EQ(Hook("GET", "/_emulator/paging", "").body, R"({"max_page_size":100})");
}

TEST_F(EmulatorWorkflow, PagingHookRejectsBadValuesAndUnknownFields) {
  for (const char* body :
       {R"({"max_page_size":0})", R"({"max_page_size":1001})", R"({"max_page":3})", "not json"}) {
    const TestReply reply = Hook("POST", "/_emulator/paging", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_THAT(reply.body, HasSubstr("\"error\"")) << body;
  }
  EXPECT_EQ(server_->page_cap().Get(), 100);
}

TEST_F(EmulatorWorkflow, MaxPageSizeAlsoCapsListOtaJobByFirmware) {
  std::vector<std::string> created;
  for (int i = 0; i < 4; ++i) {
    created.push_back(Create("fw-3", {"s1"}));
    ASSERT_TRUE(server_->state().SetFirmwareStatus("p", "fw-3", kFirmwareVerifyFailed, kNow));
  }
  ASSERT_EQ(Hook("POST", "/_emulator/paging", R"({"max_page_size":3})").status, 200);
  auto list = [&](const std::string& page) {
    return Call("ListOTAJobByFirmware",
                {{"FirmwareId", "fw-3"}, {"CurrentPage", page}, {"PageSize", "200"}});
  };
  Result r = list("1");
  EXPECT_EQ(r.Num("Total"), 4);
  EXPECT_EQ(r.Num("PageSize"), 3);
  EXPECT_EQ(r.Num("PageCount"), 2);
  EXPECT_EQ(Field(r.Data(), "SimpleOTAJobInfo").list_value().values_size(), 3);
  r = list("2");
  EXPECT_EQ(r.Num("CurrentPage"), 2);
  ASSERT_EQ(Field(r.Data(), "SimpleOTAJobInfo").list_value().values_size(), 1);
  EXPECT_EQ(S(Field(r.Data(), "SimpleOTAJobInfo").list_value().values(0).struct_value(), "JobId"),
            created[0]);  // newest first: the oldest is last
}

TEST_F(EmulatorWorkflow, MaxPageSizeOptionSetsTheStartUpCap) {
  absl::StatusOr<Seed> seed = ParseSeedJson(kSeed);
  ASSERT_TRUE(seed.ok());
  client_.reset();
  server_.reset();
  EmulatorOptions options;
  options.seed = *seed;
  options.worker_threads = 4;
  options.max_page_size = 4;
  server_ = std::make_unique<EmulatorServer>(options, &clock_);
  ASSERT_TRUE(server_->Start().ok());
  client_ = std::make_unique<TestClient>(server_->port());
  const std::string job = Create("fw-1", {"s1", "s2", "s3", "s4", "s5"});
  EXPECT_EQ(ListTasks(job, "1", "100").Num("PageCount"), 2);

  options.max_page_size = 0;
  EXPECT_EQ(EmulatorServer(options, &clock_).Start().code(), absl::StatusCode::kInvalidArgument);
  options.max_page_size = 10;
  options.simulation.device_update_time = absl::ZeroDuration();
  EXPECT_EQ(EmulatorServer(options, &clock_).Start().code(), absl::StatusCode::kInvalidArgument);
}

// --- filters ------------------------------------------------------------------------------

TEST_F(EmulatorWorkflow, TaskStatusAndDeviceNamesFilterBeforePaging) {
  const std::string job = Create("fw-1", {"s1", "fail", "off", "s2", "slow"});
  At(absl::Seconds(30));  // s1, s2 SUCCEEDED; fail FAILED; off QUEUED; slow IN_PROGRESS
  auto names = [&](const Result& r) {
    std::vector<std::string> out;
    for (const Struct& t : r.Tasks()) out.push_back(S(t, "DeviceName"));
    return out;
  };
  Result r = ListTasks(job, "1", "100", {{"TaskStatus", "SUCCEEDED"}});
  EXPECT_THAT(names(r), ElementsAre("s1", "s2"));
  EXPECT_EQ(r.Num("Total"), 2);
  EXPECT_THAT(names(ListTasks(job, "1", "100", {{"TaskStatus", "QUEUED"}})), ElementsAre("off"));
  EXPECT_THAT(names(ListTasks(job, "1", "100", {{"TaskStatus", "CANCELED"}})), ElementsAre());
  r = ListTasks(job, "1", "100", {{"DeviceNames.1", "slow"}, {"DeviceNames.2", "s1"}});
  EXPECT_THAT(names(r), ElementsAre("s1", "slow"));  // the job's order, not the filter's
  r = ListTasks(job, "1", "100",
                {{"DeviceNames.1", "slow"}, {"DeviceNames.2", "s1"}, {"TaskStatus", "SUCCEEDED"}});
  EXPECT_THAT(names(r), ElementsAre("s1"));
  EXPECT_THAT(names(ListTasks(job, "1", "100", {{"DeviceNames.1", "nobody"}})), ElementsAre());
  // Filtered, then paged.
  r = ListTasks(job, "2", "1", {{"TaskStatus", "SUCCEEDED"}});
  EXPECT_THAT(names(r), ElementsAre("s2"));
  EXPECT_EQ(r.Num("PageCount"), 2);

  r = ListTasks(job, "1", "100", {{"TaskStatus", "DONE"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Str("Code"), "iot.common.InvalidFormattedParameter");
  r = ListTasks(job, "1", "100", {{"DeviceNames.2", "s1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Str("Code"), "InvalidParameter");
}

// --- CancelOTATaskByJob -------------------------------------------------------------------

TEST_F(EmulatorWorkflow, CancelCancelsOnlyTheFlaggedStatesAndFreezesProgress) {
  const std::string job = Create("fw-1", {"s1", "off"});
  At(absl::Milliseconds(5500));
  Result r = Cancel(job, {{"CancelInProgressTask", "true"}, {"CancelQueuedTask", "false"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Success());
  EXPECT_EQ(r.json.fields().size(), 2u);  // RequestId, Success
  std::vector<Struct> tasks = ListTasks(job).Tasks();
  EXPECT_EQ(S(tasks[0], "TaskStatus"), "CANCELED");
  EXPECT_EQ(S(tasks[0], "TaskDesc"), "canceled");
  EXPECT_EQ(S(tasks[0], "Progress"), "50.00");
  EXPECT_EQ(S(tasks[0], "UtcModified"), Utc(absl::Milliseconds(5500)));
  EXPECT_EQ(S(tasks[1], "TaskStatus"), "QUEUED");
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");  // the queued task is still open
  EXPECT_EQ(S(QueryJob(job).Data(), "UtcModified"), Utc(absl::Milliseconds(5500)));

  At(absl::Seconds(20));
  tasks = ListTasks(job).Tasks();
  EXPECT_EQ(S(tasks[0], "Progress"), "50.00");  // frozen, not SUCCEEDED
  EXPECT_EQ(Field(Firmware("fw-1"), "VerifyProgress").number_value(), 25);

  r = Cancel(job, {{"CancelQueuedTask", "true"}});
  EXPECT_TRUE(r.Success());
  EXPECT_EQ(S(ListTasks(job).Tasks()[1], "TaskStatus"), "CANCELED");
  const Struct data = QueryJob(job).Data();
  EXPECT_EQ(S(data, "JobStatus"), "CANCELED");
  EXPECT_EQ(S(data, "UtcEndTime"), Utc(absl::Seconds(20)));
  EXPECT_EQ(S(data, "UtcModified"), Utc(absl::Seconds(20)));
  // A canceled verification leaves the package unverified: it may be verified again.
  const Struct firmware = Firmware("fw-1");
  EXPECT_EQ(Field(firmware, "Status").number_value(), kFirmwareNotVerified);
  EXPECT_EQ(Field(firmware, "VerifyProgress").number_value(), 0);
  EXPECT_NE(Create("fw-1", {"s1"}), "");
}

TEST_F(EmulatorWorkflow, CancelNotifiedTaskCancelsTasksNotYetStarted) {
  const std::string job = Create("fw-1", {"s1", "s2"});
  At(absl::Milliseconds(500));
  EXPECT_TRUE(Cancel(job, {{"CancelInProgressTask", "true"}}).Success());
  EXPECT_EQ(S(Task(job), "TaskStatus"), "NOTIFIED");  // not in progress yet: untouched
  EXPECT_TRUE(Cancel(job, {{"CancelNotifiedTask", "true"}}).Success());
  for (const Struct& t : ListTasks(job).Tasks()) {
    EXPECT_EQ(S(t, "TaskStatus"), "CANCELED");
    EXPECT_EQ(S(t, "Progress"), "0.00");
  }
  EXPECT_EQ(JobStatus(job), "CANCELED");
}

TEST_F(EmulatorWorkflow, CancelOfAFinishedJobSucceedsAndChangesNothing) {
  const std::string job = Create("fw-1", {"s1"});
  At(absl::Seconds(15));
  const Result r = Cancel(job, {{"CancelInProgressTask", "true"},
                                {"CancelQueuedTask", "true"},
                                {"CancelNotifiedTask", "true"},
                                {"CancelUnconfirmedTask", "true"},
                                {"CancelScheduledTask", "true"}});
  EXPECT_TRUE(r.Success()) << r.body;
  EXPECT_EQ(S(Task(job), "TaskStatus"), "SUCCEEDED");
  const Struct data = QueryJob(job).Data();
  EXPECT_EQ(S(data, "JobStatus"), "COMPLETED");
  EXPECT_EQ(S(data, "UtcModified"), Utc(absl::Seconds(10)));
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareVerified);
}

TEST_F(EmulatorWorkflow, CancelNeedsAtLeastOneTrueOption) {
  const std::string job = Create("fw-1", {"s1"});
  Result r = Cancel(job, {});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.Success());
  EXPECT_EQ(r.Str("Code"), "iot.ota.CancelOptionRequired");
  EXPECT_NE(r.Str("ErrorMessage"), "");
  r = Cancel(job, {{"CancelInProgressTask", "false"}, {"CancelQueuedTask", "false"}});
  EXPECT_EQ(r.Str("Code"), "iot.ota.CancelOptionRequired");
  // Only CancelScheduledTask: accepted, cancels nothing (verify jobs are never scheduled).
  EXPECT_TRUE(Cancel(job, {{"CancelScheduledTask", "true"}}).Success());
  EXPECT_EQ(S(Task(job), "TaskStatus"), "NOTIFIED");
  r = Cancel(job, {{"CancelInProgressTask", "yes"}});
  EXPECT_EQ(r.Str("Code"), "iot.common.InvalidFormattedParameter");
  EXPECT_EQ(S(Task(job), "TaskStatus"), "NOTIFIED");
}

// --- errors -------------------------------------------------------------------------------

TEST_F(EmulatorWorkflow, MissingJobIdIsAGatewayError) {
  for (const char* action : {"QueryOTAJob", "ListOTATaskByJob", "CancelOTATaskByJob"}) {
    const Result r =
        Call(action, {{"CurrentPage", "1"}, {"PageSize", "10"}, {"CancelQueuedTask", "true"}});
    EXPECT_EQ(r.status, 400) << action;
    EXPECT_EQ(r.Str("Code"), "MissingJobId") << action;
  }
}

TEST_F(EmulatorWorkflow, UnknownJobIsNotExistedJob) {
  Result r = QueryJob("no-such-job");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.Success());
  EXPECT_EQ(r.Str("Code"), "iot.ota.NotExistedJob");
  EXPECT_THAT(r.Str("ErrorMessage"), HasSubstr("no-such-job"));
  EXPECT_EQ(r.json.fields().count("Data"), 0u);
  EXPECT_EQ(ListTasks("no-such-job").Str("Code"), "iot.ota.NotExistedJob");
  EXPECT_EQ(Cancel("no-such-job", {{"CancelQueuedTask", "true"}}).Str("Code"),
            "iot.ota.NotExistedJob");
}

TEST_F(EmulatorWorkflow, AJobIsVisibleFromItsOwnInstanceOnly) {
  const Result created = Call("CreateOTAVerifyJob", {{"FirmwareId", "fw-ent"},
                                                     {"ProductKey", "ent"},
                                                     {"TargetDeviceName.1", "e1"},
                                                     {"IotInstanceId", "inst-1"}});
  ASSERT_TRUE(created.Success()) << created.body;
  const std::string job = S(created.Data(), "JobId");
  EXPECT_EQ(QueryJob(job).Str("Code"), "iot.ota.NotExistedJob");
  EXPECT_TRUE(Call("QueryOTAJob", {{"JobId", job}, {"IotInstanceId", "inst-1"}}).Success());
  EXPECT_TRUE(
      Call("ListOTATaskByJob",
           {{"JobId", job}, {"CurrentPage", "1"}, {"PageSize", "1"}, {"IotInstanceId", "inst-1"}})
          .Success());
  EXPECT_EQ(Call("QueryOTAJob", {{"JobId", job}, {"IotInstanceId", "inst-nope"}}).Str("Code"),
            "iot.Sre.IotInstanceNotFound");
  const std::string public_job = Create("fw-1", {"s1"});
  EXPECT_EQ(Call("QueryOTAJob", {{"JobId", public_job}, {"IotInstanceId", "inst-1"}}).Str("Code"),
            "iot.ota.NotExistedJob");
}

TEST_F(EmulatorWorkflow, BadTaskPagingIsInvalidPageParams) {
  const std::string job = Create("fw-1", {"s1"});
  struct Case {
    const char* page;
    const char* size;
  };
  for (const Case& c : {Case{"0", "10"}, Case{"-1", "10"}, Case{"x", "10"}, Case{"1", "0"},
                        Case{"1", "101"}, Case{"1", "2.5"}}) {
    const Result r = ListTasks(job, c.page, c.size);
    EXPECT_EQ(r.status, 200) << c.page << " " << c.size;
    EXPECT_FALSE(r.Success());
    EXPECT_EQ(r.Str("Code"), "iot.common.InvalidPageParams") << c.page << " " << c.size;
  }
  EXPECT_TRUE(ListTasks(job, "1", "100").Success());
  EXPECT_EQ(Call("ListOTATaskByJob", {{"JobId", job}, {"PageSize", "1"}}).Str("Code"),
            "MissingCurrentPage");
  EXPECT_EQ(Call("ListOTATaskByJob", {{"JobId", job}, {"CurrentPage", "1"}}).Str("Code"),
            "MissingPageSize");
}

// --- quotas, stats, reset -----------------------------------------------------------------

TEST_F(EmulatorWorkflow, NewActionsHaveTheirQuotasAndAreCounted) {
  const std::string job = Create("fw-1", {"s1"});
  ASSERT_EQ(Hook("POST", "/_emulator/quota", R"({"enabled":true})").status, 200);
  auto admitted = [&](int n, const std::function<Result()>& call) {
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      const Result r = call();
      if (r.Str("Code") != "Throttling.User") ++ok;
    }
    return ok;
  };
  EXPECT_EQ(admitted(12, [&] { return QueryJob(job); }), 10);
  EXPECT_EQ(admitted(12, [&] { return ListTasks(job); }), 10);
  EXPECT_EQ(admitted(7, [&] { return Cancel(job, {{"CancelQueuedTask", "true"}}); }), 5);
  const StatsSnapshot stats = server_->stats().Snapshot();
  EXPECT_EQ(stats.throttled.at("QueryOTAJob"), 2);
  EXPECT_EQ(stats.throttled.at("ListOTATaskByJob"), 2);
  EXPECT_EQ(stats.throttled.at("CancelOTATaskByJob"), 2);
  EXPECT_EQ(stats.requests_by_action.at("QueryOTAJob"), 12);
  EXPECT_EQ(stats.requests_by_action.at("ListOTATaskByJob"), 12);
  EXPECT_EQ(stats.requests_by_action.at("CancelOTATaskByJob"), 7);
  const std::string body = Hook("GET", "/_emulator/stats", "").body;
  EXPECT_THAT(body, HasSubstr(R"("CancelOTATaskByJob":7)"));
  EXPECT_THAT(body, HasSubstr(R"("QueryOTAJob":12)"));
}

TEST_F(EmulatorWorkflow, ResetForgetsJobsAndTheirTasks) {
  const std::string job = Create("fw-1", {"s1"});
  ASSERT_EQ(Hook("POST", "/_emulator/reset", "").status, 200);
  EXPECT_EQ(QueryJob(job).Str("Code"), "iot.ota.NotExistedJob");
  EXPECT_EQ(Field(Firmware("fw-1"), "Status").number_value(), kFirmwareNotVerified);
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

// --- the demo seed ------------------------------------------------------------------------

TEST_F(EmulatorWorkflow, DemoSeedDevicesBehaveAsDocumented) {
  StartServer(DemoSeed(), absl::Seconds(4));
  const Result created = Call("CreateOTAVerifyJob", {{"FirmwareId", "demo-firmware-20"},
                                                     {"ProductKey", "a1DemoProduct"},
                                                     {"TargetDeviceName.1", "demo-device-10"},
                                                     {"TargetDeviceName.2", "demo-device-fail"},
                                                     {"TargetDeviceName.3", "demo-device-offline"},
                                                     {"TargetDeviceName.4", "demo-device-timeout"},
                                                     {"TimeoutInMinutes", "10"}});
  ASSERT_TRUE(created.Success()) << created.body;
  const std::string job = S(created.Data(), "JobId");
  At(absl::Seconds(10));
  std::vector<Struct> tasks = ListTasks(job).Tasks();
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(S(tasks[0], "TaskStatus"), "SUCCEEDED");
  EXPECT_EQ(S(tasks[1], "TaskStatus"), "FAILED");
  EXPECT_EQ(S(tasks[1], "Progress"), "40.00");
  EXPECT_EQ(S(tasks[1], "TaskDesc"), "checksum mismatch after download");
  EXPECT_EQ(S(tasks[2], "TaskStatus"), "QUEUED");
  EXPECT_EQ(S(tasks[3], "TaskStatus"), "FAILED");
  EXPECT_EQ(S(tasks[3], "Progress"), "30.00");
  EXPECT_THAT(S(tasks[3], "TaskDesc"), HasSubstr("timed out"));
  EXPECT_EQ(JobStatus(job), "IN_PROGRESS");
  EXPECT_TRUE(Cancel(job, {{"CancelQueuedTask", "true"}}).Success());
  EXPECT_EQ(JobStatus(job), "CANCELED");
  // The documented demo contents.
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(Call("CreateOTAVerifyJob", {{"FirmwareId", absl::StrCat("demo-firmware-", i)},
                                          {"ProductKey", "a1DemoProduct"},
                                          {"TargetDeviceName.1", absl::StrCat("demo-device-", i)}})
                  .Success(),
              true)
        << i;
  }
  EXPECT_EQ(Field(Firmware("demo-firmware-19"), "Status").number_value(), kFirmwareNotVerified);
  EXPECT_EQ(Field(Firmware("demo-firmware-verified"), "Status").number_value(), kFirmwareVerified);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify
