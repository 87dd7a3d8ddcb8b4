// Fault injection in the emulator: the control endpoint /_emulator/faults, count and action
// semantics, and what each fault looks like on the wire — observed with httplib where it shows
// the status and body, and with a plain POSIX socket where httplib would hide what happened
// (RST, EOF after a kept-alive response, a short body, a dripping body).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "emulator/emulator_server.h"
#include "emulator/fault_injector.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

RpcCall CreateJobCall(const std::string& firmware = "demo-firmware-1") {
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = {{"FirmwareId", firmware},
                 {"ProductKey", "a1DemoProduct"},
                 {"TargetDeviceName.1", "demo-device-1"}};
  return call;
}

// One HTTP/1.1 exchange below httplib: what arrived, and how the stream ended.
struct RawRead {
  std::string bytes;
  bool eof = false;  // orderly close (FIN)
  int error = 0;     // errno of the failing recv, e.g. ECONNRESET
};

// A blocking TCP client with a 10 s receive timeout, so a test can see RSTs and EOFs.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { close(fd_); }

  bool connected() const { return connected_; }

  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads until the peer closes (or resets) the connection, or the timeout.
  RawRead ReadToEnd() {
    RawRead out;
    ReadMore(&out, [](const std::string&) { return false; });
    return out;
  }

  // Reads one response: headers, then Content-Length bytes of body (or until the stream ends).
  RawRead ReadResponse() {
    RawRead out;
    ReadMore(&out, [](const std::string& bytes) {
      const size_t end = bytes.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      return bytes.size() >= end + 4 + ContentLength(bytes.substr(0, end));
    });
    return out;
  }

  // Reads until `done(bytes)`, recording when each chunk arrived.
  template <typename Done>
  void ReadMore(RawRead* out, Done done, std::vector<absl::Time>* arrivals = nullptr) {
    char buf[4096];
    while (!done(out->bytes)) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        out->bytes.append(buf, static_cast<size_t>(n));
        if (arrivals != nullptr) arrivals->push_back(absl::Now());
      } else {
        if (n == 0) out->eof = true;
        if (n < 0) out->error = errno;
        return;
      }
    }
  }

  static size_t ContentLength(const std::string& headers) {
    for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
      if (absl::StartsWithIgnoreCase(line, "content-length:")) {
        size_t n = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &n)) return n;
      }
    }
    return 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct ParsedResponse {
  std::string headers;  // status line and headers, lower-cased
  size_t content_length = 0;
  std::string body;
};

ParsedResponse Parse(const std::string& bytes) {
  ParsedResponse out;
  const size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return out;
  out.headers = absl::AsciiStrToLower(bytes.substr(0, end));
  out.content_length = RawConnection::ContentLength(bytes.substr(0, end));
  out.body = bytes.substr(end + 4);
  return out;
}

class EmulatorFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 16;
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }

  absl::StatusOr<TestReply> Control(const std::string& method, const std::string& body = "") {
    HttpRequest request;
    request.method = method;
    request.url = "/_emulator/faults";
    request.body = body;
    return TestClient(server_->port()).Send(request);
  }

  // Arms a fault through the control endpoint.
  void Arm(const std::string& json) {
    const absl::StatusOr<TestReply> reply = Control("POST", json);
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_EQ(reply->status, 200) << reply->body;
  }

  absl::StatusOr<TestReply> Create(const std::string& nonce,
                                   SignatureVersion version = SignatureVersion::kV3) {
    return client_->Call(CreateJobCall(), version, kNow, nonce);
  }

  // A signed CreateOTAVerifyJob as raw HTTP/1.1 bytes.
  std::string RawCreate(const std::string& nonce) {
    const HttpRequest request =
        BuildSignedRequest(CreateJobCall(), TestClient::DefaultCredentials(), client_->endpoint(),
                           SignatureVersion::kV3, kNow, nonce);
    std::string path = request.url.substr(request.url.find('/', request.url.find("://") + 3));
    std::string out = absl::StrCat(request.method, " ", path, " HTTP/1.1\r\n");
    for (const auto& [name, value] : request.headers)
      absl::StrAppend(&out, name, ": ", value, "\r\n");
    absl::StrAppend(&out, "Content-Length: ", request.body.size(), "\r\n\r\n", request.body);
    return out;
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
  std::unique_ptr<TestClient> client_;
};

// --- The control endpoint -------------------------------------------------------------------

TEST_F(EmulatorFaultTest, ArmedFaultsAreListedWithDefaultsAndDeleteClearsThem) {
  Arm(R"({"fault":"http_503"})");
  Arm(R"({"fault":"delay","count":-1,"delay_ms":250,"action":"CreateOTAVerifyJob"})");
  Arm(R"({"fault":"slow_drip_body","count":3})");
  const auto listed = Control("GET");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->body,
            R"({"faults":[{"fault":"http_503","count":1,"action":""},)"
            R"({"fault":"delay","count":-1,"delay_ms":250,"action":"CreateOTAVerifyJob"},)"
            R"({"fault":"slow_drip_body","count":3,"delay_ms":1000,"action":""}]})");
  const auto cleared = Control("DELETE");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->body, R"({"cleared":3})");
  EXPECT_EQ(Control("GET")->body, R"({"faults":[]})");
  EXPECT_EQ(Create("n1")->status, 200);
}

TEST_F(EmulatorFaultTest, PostEchoesTheArmedFault) {
  const auto reply = Control("POST", R"({"fault":"throttling","count":2})");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, R"({"armed":{"fault":"throttling","count":2,"action":""}})");
}

TEST_F(EmulatorFaultTest, MalformedFaultRequestsAreRejectedAndArmNothing) {
  for (const char* body : {
           "",
           "not json",
           R"({"fault":"http_504"})",
           R"({"fault":"http_500","count":0})",
           R"({"fault":"http_500","count":-2})",
           R"({"fault":"http_500","delay_ms":10})",
           R"({"fault":"delay","delay_ms":-1})",
           R"({"fault":"delay","delay_ms":600001})",
           R"({"fault":"http_500","cuont":2})",
       }) {
    const auto reply = Control("POST", body);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->status, 400) << body;
    EXPECT_THAT(reply->body, StartsWith(R"({"error":")")) << body;
  }
  EXPECT_EQ(Control("GET")->body, R"({"faults":[]})");
}

TEST_F(EmulatorFaultTest, ResetHookDisarmsFaults) {
  Arm(R"({"fault":"http_500","count":-1})");
  ASSERT_EQ(client_->Post("/_emulator/reset")->status, 200);
  EXPECT_EQ(Control("GET")->body, R"({"faults":[]})");
  EXPECT_EQ(Create("n1")->status, 200);
}

TEST_F(EmulatorFaultTest, HooksAreNeverFaulted) {
  Arm(R"({"fault":"http_500","count":-1})");
  EXPECT_EQ(client_->Get("/_emulator/stats")->status, 200);
  EXPECT_EQ(Control("GET")->status, 200);
}

// --- Count and action semantics -------------------------------------------------------------

TEST_F(EmulatorFaultTest, CountAppliesToExactlyNRequestsThenServesNormally) {
  Arm(R"({"fault":"http_503","count":2})");
  EXPECT_EQ(Create("n1")->status, 503);
  EXPECT_EQ(Create("n2")->status, 503);
  EXPECT_EQ(Create("n3")->status, 200);
  EXPECT_EQ(Control("GET")->body, R"({"faults":[]})");
}

TEST_F(EmulatorFaultTest, CountMinusOneAppliesUntilCleared) {
  Arm(R"({"fault":"http_503","count":-1})");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Create(absl::StrCat("n", i))->status, 503);
  ASSERT_EQ(Control("DELETE")->status, 200);
  EXPECT_EQ(Create("after")->status, 200);
}

TEST_F(EmulatorFaultTest, ActionFilterSkipsOtherActionsAndMatchesV1AndV3) {
  Arm(R"({"fault":"http_503","count":2,"action":"CreateOTAVerifyJob"})");
  RpcCall other;
  other.action = "DeleteOTAFirmware";
  other.params = {{"FirmwareId", "demo-firmware-1"}};
  const auto skipped = client_->Call(other, SignatureVersion::kV3, kNow, "n0");
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->status, 404);  // served normally: InvalidAction.NotFound
  EXPECT_THAT(skipped->body, HasSubstr("InvalidAction.NotFound"));
  EXPECT_EQ(Create("n1", SignatureVersion::kV1)->status, 503);  // Action in the query
  EXPECT_EQ(Create("n2", SignatureVersion::kV3)->status, 503);  // x-acs-action header
  EXPECT_EQ(Create("n3")->status, 200);
}

TEST_F(EmulatorFaultTest, FaultsFireInArmingOrder) {
  Arm(R"({"fault":"http_500"})");
  Arm(R"({"fault":"http_503"})");
  EXPECT_EQ(Create("n1")->status, 500);
  EXPECT_EQ(Create("n2")->status, 503);
  EXPECT_EQ(Create("n3")->status, 200);
}

TEST_F(EmulatorFaultTest, ConcurrentRequestsConsumeTheCountExactly) {
  Arm(R"({"fault":"http_503","count":7})");
  std::atomic<int> faulted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(server_->port());
      for (int i = 0; i < 5; ++i) {
        const auto reply = client.Call(CreateJobCall(), SignatureVersion::kV3, kNow,
                                       absl::StrCat("n-", t, "-", i));
        if (reply.ok() && reply->status == 503) ++faulted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(faulted.load(), 7);
}

TEST_F(EmulatorFaultTest, FaultedRequestsAreCountedWithFaultOutcome) {
  Arm(R"({"fault":"http_503","count":2})");
  Arm(R"({"fault":"throttling"})");
  for (const char* nonce : {"n1", "n2", "n3", "n4"}) ASSERT_TRUE(Create(nonce).ok());
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.requests_total, 4);
  EXPECT_EQ(stats.requests_by_action.at("CreateOTAVerifyJob"), 4);
  EXPECT_EQ(stats.requests_by_outcome.at("fault:http_503"), 2);
  EXPECT_EQ(stats.requests_by_outcome.at("fault:throttling"), 1);
  EXPECT_EQ(stats.requests_by_outcome.at("success"), 1);
  EXPECT_EQ(stats.faults_injected.at("http_503"), 2);
  EXPECT_EQ(stats.faults_injected.at("throttling"), 1);
  EXPECT_THAT(client_->Get("/_emulator/stats")->body,
              HasSubstr(R"("faults_injected":{"http_503":2,"throttling":1})"));
}

// --- Responses that stand in for the service: the request is not processed -----------------

TEST_F(EmulatorFaultTest, Http500IsInternalErrorAndTheJobIsNotCreated) {
  Arm(R"({"fault":"http_500"})");
  const auto reply = Create("n1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 500);
  EXPECT_THAT(reply->content_type, HasSubstr("application/json"));
  const auto json = TestClient::ParseJson(reply->body);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->fields().at("Code").string_value(), "InternalError");
  EXPECT_FALSE(json->fields().at("RequestId").string_value().empty());
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, Http503IsServiceUnavailable) {
  Arm(R"({"fault":"http_503"})");
  const auto reply = Create("n1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(TestClient::ParseJson(reply->body)->fields().at("Code").string_value(),
            "ServiceUnavailable");
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, Http502IsALoadBalancerHtmlPage) {
  Arm(R"({"fault":"http_502"})");
  const auto reply = Create("n1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 502);
  EXPECT_EQ(reply->content_type, "text/html");
  EXPECT_THAT(reply->body, HasSubstr("<h1>502 Bad Gateway</h1>"));
  EXPECT_FALSE(TestClient::ParseJson(reply->body).ok());
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, ThrottlingIsA400WithThrottlingUserCode) {
  Arm(R"({"fault":"throttling"})");
  const auto reply = Create("n1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  const auto json = TestClient::ParseJson(reply->body);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->fields().at("Code").string_value(), "Throttling.User");
  EXPECT_EQ(json->fields().count("Message"), 1u);
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, XmlErrorBodyIsAn400XmlErrorDocument) {
  Arm(R"({"fault":"xml_error_body"})");
  const auto reply = Create("n1");  // a V3 request, which normally always gets JSON
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 400);
  EXPECT_THAT(reply->content_type, HasSubstr("text/xml"));
  EXPECT_THAT(reply->body, HasSubstr("<Error><RequestId>"));
  EXPECT_THAT(reply->body, HasSubstr("</RequestId><HostId>"));
  EXPECT_THAT(reply->body, HasSubstr("<Code>Throttling.User</Code><Message>"));
  EXPECT_THAT(reply->body, HasSubstr("</Error>"));
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, NonJsonBodyIsA200HtmlPage) {
  Arm(R"({"fault":"non_json_body"})");
  const auto reply = Create("n1");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->content_type, "text/html");
  EXPECT_FALSE(TestClient::ParseJson(reply->body).ok());
  EXPECT_EQ(server_->state().JobCount(), 0u);
}

TEST_F(EmulatorFaultTest, ResetBeforeResponseSendsRstAndDoesNotProcess) {
  Arm(R"({"fault":"reset_before_response"})");
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  const RawRead read = conn.ReadToEnd();
  EXPECT_EQ(read.bytes, "");
  EXPECT_EQ(read.error, ECONNRESET);
  EXPECT_FALSE(read.eof);
  EXPECT_EQ(server_->state().JobCount(), 0u);
  EXPECT_EQ(Stats().faults_injected.at("reset_before_response"), 1);
  // The next connection is served normally.
  EXPECT_EQ(Create("n2")->status, 200);
}

TEST_F(EmulatorFaultTest, ResetBeforeResponseFailsAnHttplibClient) {
  Arm(R"({"fault":"reset_before_response"})");
  EXPECT_EQ(Create("n1").status().code(), absl::StatusCode::kUnavailable);
}

// --- Responses damaged in delivery: the request is processed --------------------------------

TEST_F(EmulatorFaultTest, DelayProcessesFirstThenAnswersLate) {
  Arm(R"({"fault":"delay","delay_ms":300})");
  const absl::Time start = absl::Now();
  const auto reply = Create("n1");
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_THAT(reply->body, HasSubstr("\"Success\":true"));
  EXPECT_GE(elapsed, absl::Milliseconds(300));
}

TEST_F(EmulatorFaultTest, DelayedCreateExistsAlthoughTheClientGaveUp) {
  Arm(R"({"fault":"delay","delay_ms":5000})");
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  // The client aborts well before the answer; the job was created before the delay began.
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  while (server_->state().JobCount() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(server_->state().JobCount(), 1u);
  EXPECT_EQ(server_->state().FirmwareStatus("a1DemoProduct", "demo-firmware-1"),
            kFirmwareVerifying);
}

TEST_F(EmulatorFaultTest, StopCutsAnInjectedDelayShort) {
  Arm(R"({"fault":"delay","delay_ms":600000})");
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  while (server_->state().JobCount() == 0) absl::SleepFor(absl::Milliseconds(5));
  const absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

TEST_F(EmulatorFaultTest, CloseAfterResponseAnswersKeepAliveThenTheConnectionIsDead) {
  Arm(R"({"fault":"close_after_response"})");
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  const RawRead first = conn.ReadResponse();
  const ParsedResponse response = Parse(first.bytes);
  EXPECT_THAT(response.headers, StartsWith("http/1.1 200"));
  EXPECT_THAT(response.headers, HasSubstr("\r\nkeep-alive: timeout="));  // HTTP/1.1: persistent
  EXPECT_THAT(response.headers, Not(HasSubstr("connection: close")));
  EXPECT_EQ(response.body.size(), response.content_length);
  EXPECT_THAT(response.body, HasSubstr("\"Success\":true"));
  EXPECT_EQ(server_->state().JobCount(), 1u);

  // The stale keep-alive race: the next request on the kept-alive connection gets nothing
  // back — EOF, or a reset if the request reached the closed socket.
  (void)conn.Send(RawCreate("n2"));  // may fail already: the connection is dead either way
  const RawRead second = conn.ReadToEnd();
  EXPECT_EQ(second.bytes, "");
  EXPECT_TRUE(second.eof || second.error == ECONNRESET) << second.error;
  EXPECT_EQ(Stats().requests_total, 1);
}

TEST_F(EmulatorFaultTest, CloseAfterResponseForcesAnHttplibClientOntoANewConnection) {
  Arm(R"({"fault":"close_after_response"})");
  EXPECT_EQ(Create("n1")->status, 200);
  absl::SleepFor(absl::Milliseconds(50));  // let the FIN arrive
  EXPECT_EQ(Create("n2")->status, 200);
  EXPECT_EQ(Stats().connections_accepted, 3);  // Arm()'s own, then the client's two
}

TEST_F(EmulatorFaultTest, TruncatedBodySendsLessThanContentLengthThenCloses) {
  Arm(R"({"fault":"truncated_body"})");
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  const RawRead read = conn.ReadToEnd();
  EXPECT_TRUE(read.eof);
  const ParsedResponse response = Parse(read.bytes);
  EXPECT_THAT(response.headers, StartsWith("http/1.1 200"));
  EXPECT_GT(response.content_length, 0u);
  EXPECT_LT(response.body.size(), response.content_length);
  EXPECT_GT(response.body.size(), 0u);
  EXPECT_THAT(response.body, StartsWith("{"));
  EXPECT_EQ(server_->state().JobCount(), 1u);
}

TEST_F(EmulatorFaultTest, TruncatedBodyFailsAnHttplibClient) {
  Arm(R"({"fault":"truncated_body"})");
  EXPECT_FALSE(Create("n1").ok());
}

TEST_F(EmulatorFaultTest, SlowDripBodyArrivesInPiecesOverAboutDelay) {
  Arm(R"({"fault":"slow_drip_body","delay_ms":400})");
  RawConnection conn(server_->port());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(conn.Send(RawCreate("n1")));
  RawRead read;
  std::vector<absl::Time> arrivals;
  conn.ReadMore(
      &read,
      [](const std::string& bytes) {
        const size_t end = bytes.find("\r\n\r\n");
        return end != std::string::npos &&
               bytes.size() >= end + 4 + RawConnection::ContentLength(bytes.substr(0, end));
      },
      &arrivals);
  const absl::Duration elapsed = absl::Now() - start;
  const ParsedResponse response = Parse(read.bytes);
  ASSERT_EQ(response.body.size(), response.content_length);
  EXPECT_TRUE(TestClient::ParseJson(response.body).ok()) << response.body;
  EXPECT_THAT(response.body, HasSubstr("\"Success\":true"));
  EXPECT_GE(elapsed, absl::Milliseconds(400));
  EXPECT_LT(elapsed, absl::Seconds(10));
  EXPECT_GT(arrivals.size(), 3u);                                // the body came in several pieces
  EXPECT_LT(arrivals.front() - start, absl::Milliseconds(400));  // headers first
}

// --- FaultInjector alone ---------------------------------------------------------------------

TEST(EmulatorFaultInjector, TakeSkipsNonMatchingAndRemovesSpentEntries) {
  FaultInjector faults;
  Fault only_create = *ParseFault(R"({"fault":"http_500","action":"CreateOTAVerifyJob"})");
  ASSERT_TRUE(faults.Arm(only_create).ok());
  EXPECT_FALSE(faults.Take("QueryOTAFirmware").has_value());
  EXPECT_FALSE(faults.Take("").has_value());
  const std::optional<Fault> taken = faults.Take("CreateOTAVerifyJob");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->kind, FaultKind::kHttp500);
  EXPECT_FALSE(faults.AnyArmed());
  EXPECT_FALSE(faults.Take("CreateOTAVerifyJob").has_value());
}

TEST(EmulatorFaultInjector, UntilClearedNeverRunsOut) {
  FaultInjector faults;
  ASSERT_TRUE(faults.Arm(*ParseFault(R"({"fault":"delay","count":-1,"delay_ms":5})")).ok());
  for (int i = 0; i < 100; ++i) {
    const std::optional<Fault> taken = faults.Take("X");
    ASSERT_TRUE(taken.has_value());
    EXPECT_EQ(taken->delay, absl::Milliseconds(5));
  }
  EXPECT_EQ(faults.Clear(), 1u);
  EXPECT_FALSE(faults.Take("X").has_value());
}

TEST(EmulatorFaultInjector, ArmingIsBounded) {
  FaultInjector faults;
  for (size_t i = 0; i < FaultInjector::kMaxArmed; ++i) {
    ASSERT_TRUE(faults.Arm(*ParseFault(R"({"fault":"http_500"})")).ok());
  }
  EXPECT_EQ(faults.Arm(*ParseFault(R"({"fault":"http_500"})")).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(EmulatorFaultInjector, EveryDocumentedNameParsesAndRoundTrips) {
  for (const char* name : {"delay", "http_500", "http_502", "http_503", "reset_before_response",
                           "close_after_response", "truncated_body", "non_json_body",
                           "xml_error_body", "slow_drip_body", "throttling"}) {
    const absl::StatusOr<Fault> fault = ParseFault(absl::StrCat(R"({"fault":")", name, R"("})"));
    ASSERT_TRUE(fault.ok()) << name << ": " << fault.status();
    EXPECT_EQ(FaultName(fault->kind), name);
    EXPECT_EQ(fault->count, 1);
    const absl::StatusOr<Fault> again = ParseFault(fault->ToJson());
    ASSERT_TRUE(again.ok()) << fault->ToJson();
    EXPECT_EQ(again->ToJson(), fault->ToJson());
  }
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify
