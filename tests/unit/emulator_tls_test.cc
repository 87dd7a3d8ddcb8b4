// The emulator over TLS: a certificate from tests/testing/make_test_ca.sh verifies against the
// test CA (and not against an unrelated one), kept-alive connections and resumed sessions show
// in the handshake counters, and the socket-level faults work under TLS too.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "service/common/clock.h"
#include "emulator/emulator_server.h"
#include "emulator/seed.h"
#include "emulator/test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/aliyun/rpc_request.h"

namespace otaverify {
namespace emulator {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 20, 8, 30, 0), absl::UTCTimeZone());

// The test PKI, generated once per test binary run.
const std::string& PkiDir() {
  static const std::string* dir = [] {
    auto* path =
        new std::string(absl::StrCat(::testing::TempDir(), "emulator_tls_test_pki_", getpid()));
    const std::string command =
        absl::StrCat(OTAVERIFY_SOURCE_DIR, "/tests/testing/make_test_ca.sh '", *path, "'");
    if (std::system(command.c_str()) != 0) path->clear();
    return path;
  }();
  return *dir;
}

std::string Pki(const char* file) { return absl::StrCat(PkiDir(), "/", file); }

// Removes the generated PKI when the binary is done.
class PkiCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!PkiDir().empty()) std::filesystem::remove_all(PkiDir());
  }
};
const ::testing::Environment* const kPkiCleanup =
    ::testing::AddGlobalTestEnvironment(new PkiCleanup);

// What one raw OpenSSL client connection saw.
struct TlsExchange {
  bool handshake_ok = false;
  bool resumed = false;
  std::string response;
  SSL_SESSION* session = nullptr;  // owned by the caller when set
};

// One TLS connection with plain OpenSSL, which (unlike httplib's client) can offer a saved
// session: handshake, one GET with Connection: close, read to the end.
TlsExchange TlsGet(int port, const std::string& ca_file, int max_version,
                   SSL_SESSION* resume = nullptr) {
  TlsExchange out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL* ssl = SSL_new(ctx);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    if (resume != nullptr) SSL_set_session(ssl, resume);
    out.handshake_ok = SSL_connect(ssl) == 1;
  }
  if (out.handshake_ok) {
    const std::string request =
        "GET /_emulator/stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buf[4096];
    int n;
    // Reading to the end also processes TLS 1.3 NewSessionTicket messages.
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) out.response.append(buf, n);
    out.resumed = SSL_session_reused(ssl) == 1;
    out.session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return out;
}

class EmulatorTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(PkiDir().empty()) << "make_test_ca.sh failed";
    EmulatorOptions options;
    options.seed = DemoSeed();
    options.worker_threads = 8;
    options.tls_cert_file = Pki("server.pem");
    options.tls_key_file = Pki("server.key");
    server_ = std::make_unique<EmulatorServer>(options, &clock_);
    ASSERT_TRUE(server_->Start().ok());
  }

  std::unique_ptr<httplib::SSLClient> Client(const char* ca_file,
                                             const std::string& host = "127.0.0.1") {
    auto client = std::make_unique<httplib::SSLClient>(host, server_->port());
    client->set_ca_cert_path(Pki(ca_file).c_str());
    client->enable_server_certificate_verification(true);
    client->set_keep_alive(true);
    client->set_url_encode(false);
    client->set_read_timeout(10, 0);
    return client;
  }

  // A signed CreateOTAVerifyJob sent over `client`.
  httplib::Result Create(httplib::SSLClient& client, const std::string& nonce) {
    Endpoint endpoint;
    endpoint.base_url = absl::StrCat("https://127.0.0.1:", server_->port());
    endpoint.host = absl::StrCat("127.0.0.1:", server_->port());
    endpoint.secure = true;
    RpcCall call;
    call.action = "CreateOTAVerifyJob";
    call.params = {{"FirmwareId", "demo-firmware-1"},
                   {"ProductKey", "a1DemoProduct"},
                   {"TargetDeviceName.1", "demo-device-1"}};
    const HttpRequest signed_request = BuildSignedRequest(
        call, TestClient::DefaultCredentials(), endpoint, SignatureVersion::kV3, kNow, nonce);
    httplib::Request req;
    req.method = signed_request.method;
    req.path = signed_request.url.substr(endpoint.base_url.size());
    for (const auto& [name, value] : signed_request.headers) req.headers.emplace(name, value);
    req.body = signed_request.body;
    return client.send(req);
  }

  void Arm(const std::string& json) {
    auto client = Client("ca.pem");
    const httplib::Result result = client->Post("/_emulator/faults", json, "application/json");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    ASSERT_EQ(result->status, 200) << result->body;
  }

  StatsSnapshot Stats() { return server_->stats().Snapshot(); }

  ManualClock clock_{kNow};
  std::unique_ptr<EmulatorServer> server_;
};

TEST_F(EmulatorTlsTest, ServesHttpsWithACertificateTheTestCaVerifies) {
  EXPECT_STREQ(server_->scheme(), "https");
  auto client = Client("ca.pem");
  const httplib::Result result = Create(*client, "n1");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_THAT(result->body, HasSubstr("\"Success\":true"));
  EXPECT_EQ(Stats().tls_handshakes_full, 1);
  EXPECT_EQ(Stats().tls_handshakes_resumed, 0);
}

TEST_F(EmulatorTlsTest, CertificateNamesLocalhostToo) {
  auto client = Client("ca.pem", "localhost");
  const httplib::Result result = client->Get("/_emulator/stats");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
}

TEST_F(EmulatorTlsTest, ClientTrustingAnotherCaFailsTheHandshake) {
  auto client = Client("other-ca.pem");
  const httplib::Result result = client->Get("/_emulator/stats");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), httplib::Error::SSLServerVerification);
  EXPECT_EQ(Stats().connections_accepted, 1);
  // httplib's client checks the verify result only after the handshake, so the server may
  // count that handshake as complete: see the next test for the handshake counters.
}

TEST_F(EmulatorTlsTest, VerifyingClientAbortsTheHandshakeAgainstAnotherCa) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const TlsExchange exchange = TlsGet(server_->port(), Pki("other-ca.pem"), version);
    EXPECT_FALSE(exchange.handshake_ok) << version;
    EXPECT_EQ(exchange.session, nullptr);
  }
  EXPECT_EQ(Stats().connections_accepted, 2);
  EXPECT_EQ(Stats().tls_handshakes_full, 0);
  EXPECT_EQ(Stats().tls_handshakes_resumed, 0);
}

TEST_F(EmulatorTlsTest, PlainHttpClientGetsNoAnswer) {
  TestClient plain(server_->port());
  EXPECT_FALSE(plain.Get("/_emulator/stats").ok());
  EXPECT_EQ(Stats().tls_handshakes_full, 0);
}

TEST_F(EmulatorTlsTest, KeptAliveConnectionIsOneConnectionAndOneHandshake) {
  auto client = Client("ca.pem");
  for (int i = 0; i < 5; ++i) {
    const httplib::Result result = Create(*client, absl::StrCat("n", i));
    ASSERT_TRUE(result) << httplib::to_string(result.error());
  }
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.connections_accepted, 1);
  EXPECT_EQ(stats.tls_handshakes_full, 1);
  EXPECT_EQ(stats.tls_handshakes_resumed, 0);
  EXPECT_EQ(stats.requests_total, 5);
}

TEST_F(EmulatorTlsTest, StatsEndpointReportsHandshakeCounters) {
  auto client = Client("ca.pem");
  const httplib::Result result = client->Get("/_emulator/stats");
  ASSERT_TRUE(result);
  EXPECT_THAT(result->body, HasSubstr("\"tls_handshakes_full\":1,\"tls_handshakes_resumed\":0"));
}

class EmulatorTlsResumptionTest : public EmulatorTlsTest,
                                  public ::testing::WithParamInterface<int> {};

TEST_P(EmulatorTlsResumptionTest, ResumedSessionCountsAsResumedNotFull) {
  TlsExchange first = TlsGet(server_->port(), Pki("ca.pem"), GetParam());
  ASSERT_TRUE(first.handshake_ok);
  ASSERT_NE(first.session, nullptr);
  EXPECT_FALSE(first.resumed);
  EXPECT_THAT(first.response, HasSubstr("200 OK"));
  TlsExchange second = TlsGet(server_->port(), Pki("ca.pem"), GetParam(), first.session);
  ASSERT_TRUE(second.handshake_ok);
  EXPECT_TRUE(second.resumed);
  SSL_SESSION_free(first.session);
  SSL_SESSION_free(second.session);
  const StatsSnapshot stats = Stats();
  EXPECT_EQ(stats.connections_accepted, 2);
  EXPECT_EQ(stats.tls_handshakes_full, 1);
  EXPECT_EQ(stats.tls_handshakes_resumed, 1);
}

INSTANTIATE_TEST_SUITE_P(Versions, EmulatorTlsResumptionTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13";
                         });

TEST_F(EmulatorTlsTest, ResetZeroesTheHandshakeCounters) {
  auto client = Client("ca.pem");
  ASSERT_TRUE(client->Post("/_emulator/reset"));
  EXPECT_EQ(Stats().tls_handshakes_full, 0);
  EXPECT_EQ(Stats().connections_accepted, 0);
  auto other = Client("ca.pem");
  ASSERT_TRUE(other->Get("/_emulator/stats"));
  EXPECT_EQ(Stats().tls_handshakes_full, 1);
}

TEST_F(EmulatorTlsTest, ResetBeforeResponseWorksUnderTls) {
  Arm(R"({"fault":"reset_before_response"})");
  auto client = Client("ca.pem");
  EXPECT_FALSE(Create(*client, "n1"));
  EXPECT_EQ(server_->state().JobCount(), 0u);
  EXPECT_EQ(Stats().faults_injected.at("reset_before_response"), 1);
}

TEST_F(EmulatorTlsTest, CloseAfterResponseWorksUnderTls) {
  Arm(R"({"fault":"close_after_response"})");
  auto client = Client("ca.pem");
  const httplib::Result first = Create(*client, "n1");
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  EXPECT_EQ(first->status, 200);
  absl::SleepFor(absl::Milliseconds(50));
  const httplib::Result second = Create(*client, "n2");
  ASSERT_TRUE(second) << httplib::to_string(second.error());
  // Arm()'s connection, then the client's first and (after the close) second.
  EXPECT_EQ(Stats().connections_accepted, 3);
}

TEST(EmulatorTlsOptions, UnloadableOrHalfConfiguredTlsFailsToStart) {
  ManualClock clock(kNow);
  EmulatorOptions missing;
  missing.seed = DemoSeed();
  missing.tls_cert_file = "/nonexistent/server.pem";
  missing.tls_key_file = "/nonexistent/server.key";
  EXPECT_EQ(EmulatorServer(missing, &clock).Start().code(), absl::StatusCode::kInvalidArgument);

  ASSERT_FALSE(PkiDir().empty());
  EmulatorOptions half;
  half.seed = DemoSeed();
  half.tls_cert_file = Pki("server.pem");
  EXPECT_EQ(EmulatorServer(half, &clock).Start().code(), absl::StatusCode::kInvalidArgument);

  EmulatorOptions wrong_key;  // a key that does not match the certificate
  wrong_key.seed = DemoSeed();
  wrong_key.tls_cert_file = Pki("server.pem");
  wrong_key.tls_key_file = Pki("ca.key");
  EXPECT_EQ(EmulatorServer(wrong_key, &clock).Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify
