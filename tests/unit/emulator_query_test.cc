// The read actions a create's reconciliation needs (protocol.md §6, §7) — QueryOTAFirmware and
// ListOTAJobByFirmware — and the process_then_reset fault that makes reconciliation necessary:
// the create happened, the answer never arrived.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "emulator/emulator_server.h"
#include "emulator/fault_injector.h"
#include "emulator/response.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

constexpr char kSeed[] = R"({
  "instances": ["inst-1"],
  "products": [
    {"product_key": "p", "devices": ["d1", "d2"], "firmwares": [
      {"firmware_id": "fw-skip", "status": -1},
      {"firmware_id": "fw-new", "status": 0, "firmware_name": "Camera 2.1",
       "src_version": "2.0.0", "dest_version": "2.1.0"},
      {"firmware_id": "fw-verified", "status": 1},
      {"firmware_id": "fw-verifying", "status": 2},
      {"firmware_id": "fw-failed", "status": 3}]},
    {"product_key": "ent", "iot_instance_id": "inst-1", "devices": ["e1"],
     "firmwares": [{"firmware_id": "fw-ent", "status": 0}]}
  ]
})";

using Struct = google::protobuf::Struct;

const google::protobuf::Value& Field(const Struct& s, const std::string& key) {
  static const google::protobuf::Value* const kAbsent = new google::protobuf::Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *kAbsent : it->second;
}

class EmulatorQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Seed> seed = ParseSeedJson(kSeed);
    ASSERT_TRUE(seed.ok()) << seed.status();
    EmulatorOptions options;
    options.seed = *seed;
    options.worker_threads = 4;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  struct Result {
    int status = 0;
    Struct json;
    std::string Str(const std::string& key) const { return Field(json, key).string_value(); }
    bool Success() const { return Field(json, "Success").bool_value(); }
  };

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
    auto json = TestClient::ParseJson(reply->body);
    EXPECT_TRUE(json.ok()) << json.status() << reply->body;
    if (json.ok()) result.json = *json;
    return result;
  }

  Result Query(const std::string& firmware, const std::string& instance = "") {
    Params params = {{"FirmwareId", firmware}};
    if (!instance.empty()) params.emplace_back("IotInstanceId", instance);
    return Call("QueryOTAFirmware", params);
  }
  // The FirmwareInfo of a successful query.
  Struct Info(const std::string& firmware) {
    const Result r = Query(firmware);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.Success()) << r.Str("Code");
    return Field(r.json, "FirmwareInfo").struct_value();
  }

  Result List(const std::string& firmware, const std::string& page = "1",
              const std::string& size = "10") {
    return Call("ListOTAJobByFirmware",
                {{"FirmwareId", firmware}, {"CurrentPage", page}, {"PageSize", size}});
  }
  // The JobIds on a page of a successful listing.
  std::vector<std::string> JobIds(const Result& r) {
    std::vector<std::string> ids;
    const auto& items = Field(Field(r.json, "Data").struct_value(), "SimpleOTAJobInfo");
    for (const auto& item : items.list_value().values()) {
      ids.push_back(Field(item.struct_value(), "JobId").string_value());
    }
    return ids;
  }

  // Creates a verify job for `firmware` of product p; its JobId.
  std::string Create(const std::string& firmware) {
    const Result r =
        Call("CreateOTAVerifyJob",
             {{"FirmwareId", firmware}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d1"}});
    EXPECT_TRUE(r.Success()) << r.Str("Code");
    return Field(Field(r.json, "Data").struct_value(), "JobId").string_value();
  }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
  int nonce_counter_ = 0;
};

// --- QueryOTAFirmware ---------------------------------------------------------------------

TEST_F(EmulatorQuery, QueryOtaFirmwareAnswersFirmwareInfoWithNumbersAsNumbers) {
  const Result r = Query("fw-new");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Success());
  EXPECT_NE(r.Str("RequestId"), "");
  const Struct info = Field(r.json, "FirmwareInfo").struct_value();
  EXPECT_EQ(Field(info, "FirmwareId").string_value(), "fw-new");
  EXPECT_EQ(Field(info, "FirmwareName").string_value(), "Camera 2.1");
  EXPECT_EQ(Field(info, "SrcVersion").string_value(), "2.0.0");
  EXPECT_EQ(Field(info, "DestVersion").string_value(), "2.1.0");
  EXPECT_EQ(Field(info, "ProductKey").string_value(), "p");
  EXPECT_TRUE(Field(info, "Status").has_number_value());
  EXPECT_EQ(Field(info, "Status").number_value(), 0);
  EXPECT_TRUE(Field(info, "VerifyProgress").has_number_value());
  EXPECT_EQ(Field(info, "VerifyProgress").number_value(), 0);
  EXPECT_EQ(Field(info, "Type").number_value(), 0);
  EXPECT_EQ(Field(info, "UtcCreate").string_value(), "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(Field(info, "UtcModified").string_value(), "2024-01-01T00:00:00.000Z");
}

TEST_F(EmulatorQuery, QueryOtaFirmwareReportsEverySeededStatus) {
  struct Case {
    const char* firmware;
    int status;
    int progress;
  };
  for (const Case& c : {Case{"fw-skip", -1, 0}, Case{"fw-new", 0, 0}, Case{"fw-verified", 1, 100},
                        Case{"fw-verifying", 2, 0}, Case{"fw-failed", 3, 100}}) {
    const Struct info = Info(c.firmware);
    EXPECT_EQ(Field(info, "Status").number_value(), c.status) << c.firmware;
    EXPECT_EQ(Field(info, "VerifyProgress").number_value(), c.progress) << c.firmware;
  }
  // Defaults for what the seed leaves out.
  const Struct info = Info("fw-skip");
  EXPECT_EQ(Field(info, "FirmwareName").string_value(), "fw-skip");
  EXPECT_EQ(Field(info, "DestVersion").string_value(), "1.0.0");
  EXPECT_EQ(info.fields().count("SrcVersion"), 0u);
}

TEST_F(EmulatorQuery, ACreateMakesTheFirmwareVerifyingAsOfItsTime) {
  clock_.Advance(absl::Milliseconds(1500));
  Create("fw-new");
  const Struct info = Info("fw-new");
  EXPECT_EQ(Field(info, "Status").number_value(), kFirmwareVerifying);
  EXPECT_EQ(Field(info, "UtcModified").string_value(), "2024-05-20T08:30:01.500Z");
  // What the service's verification would do later, by hand.
  ASSERT_TRUE(server_->state().SetFirmwareStatus("p", "fw-new", kFirmwareVerified, kNow));
  EXPECT_EQ(Field(Info("fw-new"), "Status").number_value(), kFirmwareVerified);
  EXPECT_EQ(Field(Info("fw-new"), "VerifyProgress").number_value(), 100);
}

TEST_F(EmulatorQuery, UnknownFirmwareIsABusinessError) {
  const Result r = Query("fw-nope");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.Success());
  EXPECT_EQ(r.Str("Code"), "iot.ota.NotExistedFirmware");
  EXPECT_THAT(r.Str("ErrorMessage"), HasSubstr("fw-nope"));
  EXPECT_EQ(r.json.fields().count("FirmwareInfo"), 0u);
}

TEST_F(EmulatorQuery, AFirmwareIsVisibleFromItsOwnInstanceOnly) {
  EXPECT_EQ(Query("fw-ent").Str("Code"), "iot.ota.NotExistedFirmware");
  EXPECT_TRUE(Query("fw-ent", "inst-1").Success());
  EXPECT_EQ(Query("fw-new", "inst-1").Str("Code"), "iot.ota.NotExistedFirmware");
  EXPECT_EQ(Query("fw-ent", "inst-nope").Str("Code"), "iot.Sre.IotInstanceNotFound");
}

TEST_F(EmulatorQuery, MissingFirmwareIdIsAGatewayError) {
  const Result r = Call("QueryOTAFirmware", {});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Str("Code"), "MissingFirmwareId");
  EXPECT_EQ(Call("ListOTAJobByFirmware", {{"CurrentPage", "1"}, {"PageSize", "1"}}).Str("Code"),
            "MissingFirmwareId");
}

TEST_F(EmulatorQuery, V1CallsWorkToo) {
  const Result r = Call("QueryOTAFirmware", {{"FirmwareId", "fw-new"}}, SignatureVersion::kV1);
  EXPECT_TRUE(r.Success());
}

// --- ListOTAJobByFirmware -----------------------------------------------------------------

TEST_F(EmulatorQuery, ListIsEmptyBeforeACreateAndShowsTheVerifyJobAfter) {
  Result r = List("fw-new");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.Success());
  EXPECT_EQ(Field(r.json, "Total").number_value(), 0);
  EXPECT_EQ(Field(r.json, "PageCount").number_value(), 0);
  EXPECT_EQ(Field(r.json, "CurrentPage").number_value(), 1);
  EXPECT_EQ(Field(r.json, "PageSize").number_value(), 10);
  EXPECT_TRUE(JobIds(r).empty());
  EXPECT_TRUE(Field(Field(r.json, "Data").struct_value(), "SimpleOTAJobInfo").has_list_value());

  clock_.Advance(absl::Milliseconds(250));
  const std::string job_id = Create("fw-new");
  r = List("fw-new");
  EXPECT_EQ(Field(r.json, "Total").number_value(), 1);
  EXPECT_EQ(Field(r.json, "PageCount").number_value(), 1);
  ASSERT_THAT(JobIds(r), ElementsAre(job_id));
  const Struct job = Field(Field(r.json, "Data").struct_value(), "SimpleOTAJobInfo")
                         .list_value()
                         .values(0)
                         .struct_value();
  EXPECT_EQ(Field(job, "JobType").string_value(), "VERFIY_FIRMWARE");  // sic
  EXPECT_EQ(Field(job, "JobStatus").string_value(), "IN_PROGRESS");
  EXPECT_EQ(Field(job, "FirmwareId").string_value(), "fw-new");
  EXPECT_EQ(Field(job, "ProductKey").string_value(), "p");
  EXPECT_EQ(Field(job, "UtcCreate").string_value(), "2024-05-20T08:30:00.250Z");
  EXPECT_EQ(Field(job, "UtcModified").string_value(), "2024-05-20T08:30:00.250Z");
  EXPECT_EQ(Field(job, "TargetSelection").string_value(), "SPECIFIC");
  EXPECT_EQ(Field(job, "SelectionType").string_value(), "STATIC");
  // Another package's jobs are not listed.
  EXPECT_TRUE(JobIds(List("fw-failed")).empty());
}

TEST_F(EmulatorQuery, ListPagesNewestFirst) {
  // Five jobs for one package: each verification "fails", so the next create is allowed; all
  // at the same instant, so the order comes from creation, not the clock.
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.push_back(Create("fw-failed"));
    ASSERT_TRUE(server_->state().SetFirmwareStatus("p", "fw-failed", kFirmwareVerifyFailed, kNow));
  }
  Result r = List("fw-failed", "1", "2");
  EXPECT_EQ(Field(r.json, "Total").number_value(), 5);
  EXPECT_EQ(Field(r.json, "PageCount").number_value(), 3);
  EXPECT_THAT(JobIds(r), ElementsAre(created[4], created[3]));
  EXPECT_THAT(JobIds(List("fw-failed", "2", "2")), ElementsAre(created[2], created[1]));
  EXPECT_THAT(JobIds(List("fw-failed", "3", "2")), ElementsAre(created[0]));
  r = List("fw-failed", "4", "2");  // past the end: empty, not an error
  EXPECT_TRUE(r.Success());
  EXPECT_EQ(Field(r.json, "Total").number_value(), 5);
  EXPECT_TRUE(JobIds(r).empty());
  EXPECT_EQ(JobIds(List("fw-failed", "1", "200")).size(), 5u);
}

TEST_F(EmulatorQuery, BadPagingParametersAreInvalidParameterErrors) {
  struct Case {
    const char* page;
    const char* size;
    const char* code;
  };
  for (const Case& c :
       {Case{"0", "10", "InvalidParameter.CurrentPage"},
        Case{"-1", "10", "InvalidParameter.CurrentPage"},
        Case{"one", "10", "InvalidParameter.CurrentPage"},
        Case{"99999999999", "10", "InvalidParameter.CurrentPage"},
        Case{"1", "0", "InvalidParameter.PageSize"}, Case{"1", "201", "InvalidParameter.PageSize"},
        Case{"1", "1.5", "InvalidParameter.PageSize"}}) {
    const Result r = List("fw-new", c.page, c.size);
    EXPECT_EQ(r.status, 400) << c.page << " " << c.size;
    EXPECT_EQ(r.Str("Code"), c.code) << c.page << " " << c.size;
  }
  EXPECT_EQ(Call("ListOTAJobByFirmware", {{"FirmwareId", "fw-new"}, {"PageSize", "1"}}).Str("Code"),
            "MissingCurrentPage");
  EXPECT_EQ(
      Call("ListOTAJobByFirmware", {{"FirmwareId", "fw-new"}, {"CurrentPage", "1"}}).Str("Code"),
      "MissingPageSize");
}

TEST_F(EmulatorQuery, ListForAnUnknownFirmwareIsNotExistedFirmware) {
  const Result r = List("fw-nope");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.Success());
  EXPECT_EQ(r.Str("Code"), "iot.ota.NotExistedFirmware");
  // An enterprise instance's package needs its IotInstanceId.
  EXPECT_EQ(List("fw-ent").Str("Code"), "iot.ota.NotExistedFirmware");
  EXPECT_TRUE(Call("ListOTAJobByFirmware", {{"FirmwareId", "fw-ent"},
                                            {"CurrentPage", "1"},
                                            {"PageSize", "1"},
                                            {"IotInstanceId", "inst-1"}})
                  .Success());
}

TEST(EmulatorDoc, ListsRenderAsJsonArraysAndRepeatedXmlElements) {
  Doc a;
  a.Str("JobId", "j1");
  Doc b;
  b.Str("JobId", "j2");
  std::vector<Doc> items;
  items.push_back(std::move(a));
  items.push_back(std::move(b));
  Doc data;
  data.Arr("SimpleOTAJobInfo", std::move(items)).Arr("Empty", {});
  Doc doc;
  doc.Int("Total", 2).Obj("Data", std::move(data));
  EXPECT_EQ(
      doc.ToJson(),
      R"({"Total":2,"Data":{"SimpleOTAJobInfo":[{"JobId":"j1"},{"JobId":"j2"}],"Empty":[]}})");
  EXPECT_THAT(doc.ToXml("R"),
              HasSubstr("<R><Total>2</Total><Data><SimpleOTAJobInfo><JobId>j1</JobId>"
                        "</SimpleOTAJobInfo><SimpleOTAJobInfo><JobId>j2</JobId>"
                        "</SimpleOTAJobInfo></Data></R>"));
}

// --- process_then_reset -------------------------------------------------------------------

// Sends raw bytes and reads until the server ends the connection (10 s timeout).
struct RawOutcome {
  std::string bytes;
  int error = 0;  // errno of the failing recv
};

RawOutcome SendRaw(int port, const std::string& bytes) {
  RawOutcome out;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    out.error = errno;
    close(fd);
    return out;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0) out.error = errno;
    break;
  }
  close(fd);
  return out;
}

TEST_F(EmulatorQuery, ProcessThenResetCreatesTheJobButTheClientSeesAReset) {
  const TestReply armed = *TestClient(server_->port()).Send([] {
    HttpRequest request;
    request.method = "POST";
    request.url = "/_emulator/faults";
    request.body = R"({"fault":"process_then_reset","action":"CreateOTAVerifyJob"})";
    return request;
  }());
  ASSERT_EQ(armed.status, 200) << armed.body;
  EXPECT_THAT(armed.body, HasSubstr(R"("fault":"process_then_reset","count":1)"));

  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = {{"FirmwareId", "fw-new"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d1"}};
  const HttpRequest request =
      BuildSignedRequest(call, TestClient::DefaultCredentials(), client_->endpoint(),
                         SignatureVersion::kV3, kNow, "raw-1");
  std::string raw = absl::StrCat(
      request.method, " ", request.url.substr(request.url.find('/', request.url.find("://") + 3)),
      " HTTP/1.1\r\n");
  for (const auto& [name, value] : request.headers)
    absl::StrAppend(&raw, name, ": ", value, "\r\n");
  absl::StrAppend(&raw, "Content-Length: ", request.body.size(), "\r\n\r\n", request.body);

  const RawOutcome outcome = SendRaw(server_->port(), raw);
  EXPECT_EQ(outcome.bytes, "");
  EXPECT_EQ(outcome.error, ECONNRESET);

  // ... yet the job exists, and reconciliation finds it.
  EXPECT_EQ(server_->state().JobCount(), 1u);
  EXPECT_EQ(Field(Info("fw-new"), "Status").number_value(), kFirmwareVerifying);
  EXPECT_EQ(JobIds(List("fw-new")).size(), 1u);
  const StatsSnapshot stats = server_->stats().Snapshot();
  EXPECT_EQ(stats.faults_injected.at("process_then_reset"), 1);
  EXPECT_EQ(stats.requests_by_outcome.at("fault:process_then_reset"), 1);
  // A blind re-send is refused: the first create happened.
  const Result again = Call("CreateOTAVerifyJob", call.params);
  EXPECT_EQ(again.Str("Code"), "iot.ota.VerifyJobIsProcessing");
}

TEST_F(EmulatorQuery, ProcessThenResetFailsAnHttplibClientAfterProcessing) {
  Fault fault;
  fault.kind = FaultKind::kProcessThenReset;
  fault.action = "CreateOTAVerifyJob";
  ASSERT_TRUE(server_->faults().Arm(fault).ok());
  // Other actions pass untouched.
  EXPECT_TRUE(Query("fw-new").Success());
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = {{"FirmwareId", "fw-new"}, {"ProductKey", "p"}, {"TargetDeviceName.1", "d1"}};
  const auto reply = client_->Call(call, SignatureVersion::kV3, kNow, "n-reset");
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(server_->state().JobCount(), 1u);
  // Count 1: the next create is answered (and refused, the package being verified).
  EXPECT_EQ(Call("CreateOTAVerifyJob", call.params).Str("Code"), "iot.ota.VerifyJobIsProcessing");
}

TEST(EmulatorFaultNames, ProcessThenResetParsesAndRoundTrips) {
  const absl::StatusOr<Fault> fault = ParseFault(R"({"fault":"process_then_reset","count":-1})");
  ASSERT_TRUE(fault.ok()) << fault.status();
  EXPECT_EQ(fault->kind, FaultKind::kProcessThenReset);
  EXPECT_EQ(fault->ToJson(), R"({"fault":"process_then_reset","count":-1,"action":""})");
  EXPECT_FALSE(ParseFault(R"({"fault":"process_then_reset","delay_ms":5})").ok());
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify
