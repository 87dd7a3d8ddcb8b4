// EmulatorServer: the HTTP(S) face of the emulator. Serves the RPC endpoint (POST|GET /: the IoT
// API and a fake STS), a fake ECS metadata service (/latest/*: IMDS) and the test hooks
// GET /_emulator/stats, POST /_emulator/reset, /_emulator/faults, /_emulator/credentials,
// /_emulator/quota and /_emulator/paging on
// a cpp-httplib server with keep-alive, counting every accepted TCP connection and, with TLS, every
// full and resumed handshake. Armed faults (fault_injector.h) replace or damage the next matching
// RPC responses, down to the TCP level (README.md, "Fault injection").
//
// Start() binds and serves on a background thread; Stop() (also run by the destructor) stops
// accepting, cuts injected delays short, waits for in-flight connections to finish and joins.
// Thread-safe after Start(). The clock must outlive the server.
#ifndef OTAVERIFY_EMULATOR_EMULATOR_SERVER_H_
#define OTAVERIFY_EMULATOR_EMULATOR_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/device_simulation.h"
#include "emulator/emulator_state.h"
#include "emulator/fault_injector.h"
#include "emulator/id_generator.h"
#include "emulator/imds_service.h"
#include "emulator/issued_credentials.h"
#include "emulator/paging.h"
#include "emulator/quota.h"
#include "emulator/rpc_service.h"
#include "emulator/seed.pb.h"
#include "emulator/stats.h"
#include "service/common/clock.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace otaverify {
namespace emulator {

struct EmulatorOptions {
  // host:port; port 0 picks a free port (see EmulatorServer::address()).
  std::string listen = "127.0.0.1:0";
  AccessKey access_key = {"emulator-access-key-id", "emulator-access-key-secret", ""};
  Seed seed;  // REQUIRES: ValidateSeed(seed).ok()
  // httplib serves one connection per worker for the connection's lifetime, so this bounds the
  // number of concurrent keep-alive connections (the gateway's pool is ~64).
  int worker_threads = 96;
  // An idle kept-alive connection is closed after this long, as the service's front end does;
  // also bounds how long Stop() waits for idle clients.
  absl::Duration keep_alive_timeout = absl::Seconds(10);
  // Larger bodies get HTTP 413.
  size_t max_body_bytes = 1 << 20;
  // Both set: serve HTTPS with this PEM certificate (chain) and private key. Both empty: HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // IMDS and STS behaviour at start, and what POST /_emulator/reset restores.
  // REQUIRES (checked by Start()): ValidateCredentialSettings(credentials).ok().
  CredentialSettings credentials;
  // Upstream quotas at start (off by default), and what POST /_emulator/reset restores.
  // REQUIRES (checked by Start()): ValidateQuotaSettings(quota).ok().
  QuotaSettings quota;
  // How fast simulated devices update and how long an emulated minute lasts.
  // REQUIRES (checked by Start()): ValidateSimulationSettings(simulation).ok().
  SimulationSettings simulation;
  // The largest page the List actions return at start, and what POST /_emulator/reset
  // restores. REQUIRES (checked by Start()): ValidateMaxPageSize(max_page_size).ok().
  int max_page_size = kDefaultMaxPageSize;
};

class EmulatorServer {
 public:
  EmulatorServer(EmulatorOptions options, const Clock* clock);
  ~EmulatorServer();

  EmulatorServer(const EmulatorServer&) = delete;
  EmulatorServer& operator=(const EmulatorServer&) = delete;

  // Binds `options.listen` and starts serving. INVALID_ARGUMENT for a bad address, TLS files
  // that cannot be loaded (or only one of them set), invalid credential, quota, simulation or
  // paging settings,
  // UNAVAILABLE if
  // the bind fails, FAILED_PRECONDITION if already started.
  absl::Status Start();
  void Stop();

  // "host:port" actually bound. REQUIRES: Start() succeeded.
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  // "https" or "http".
  const char* scheme() const { return tls() ? "https" : "http"; }
  bool tls() const { return !options_.tls_cert_file.empty(); }

  // Restores the seed and the start-up credential, quota and paging settings (buckets full),
  // forgets
  // issued credentials and IMDS tokens, zeroes the counters and disarms every fault
  // (POST /_emulator/reset).
  void Reset();

  EmulatorState& state() { return state_; }
  const EmulatorStats& stats() const { return stats_; }
  FaultInjector& faults() { return faults_; }
  CredentialSettingsStore& credential_settings() { return credential_settings_; }
  QuotaLimiter& quota() { return quota_; }
  PageSizeCap& page_cap() { return page_cap_; }
  const IssuedCredentialStore& issued_credentials() const { return issued_; }

 private:
  void RegisterHandlers();
  // Answers (or fails to answer) one RPC request according to `fault`.
  void ServeFault(const Fault& fault, const RpcHttpRequest& request, const httplib::Request& req,
                  httplib::Response& res);
  // Serves one /latest/* request, applying an armed imds_* fault.
  void ServeImds(const RpcHttpRequest& request, httplib::Response& res);
  // Sleeps for `d` or until Stop(); false if cut short.
  bool SleepUnlessStopping(absl::Duration d);

  const EmulatorOptions options_;
  EmulatorState state_;
  EmulatorStats stats_;
  FaultInjector faults_;
  absl::Notification stopping_;
  IdGenerator ids_;
  CredentialSettingsStore credential_settings_;
  IssuedCredentialStore issued_;
  QuotaLimiter quota_;
  PageSizeCap page_cap_;
  ImdsService imds_;
  RpcService rpc_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string address_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_EMULATOR_SERVER_H_
