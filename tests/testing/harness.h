// Harness: one emulator and one gateway as real processes on loopback, for integration tests.
// Servers bind port 0; their addresses come from their "listening" log lines. The emulator
// may serve TLS with a CA made at test time (make_test_ca.sh).
//
// Not thread-safe except Create/CreateAsync, which may run from many threads. Destroying the
// harness kills both processes.
#ifndef OTAVERIFY_TESTS_TESTING_HARNESS_H_
#define OTAVERIFY_TESTS_TESTING_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "otaverify/v1/ota_verify.grpc.pb.h"
#include "tests/testing/subprocess.h"

namespace otaverify::testing {

inline constexpr char kEmulatorKeyId[] = "emulator-access-key-id";
inline constexpr char kEmulatorSecret[] = "emulator-access-key-secret";

// Paths of the TLS material make_test_ca.sh writes.
struct TestCa {
  std::string dir;
  std::string ca() const { return dir + "/ca.pem"; }
  std::string other_ca() const { return dir + "/other-ca.pem"; }
  std::string server_cert() const { return dir + "/server.pem"; }
  std::string server_key() const { return dir + "/server.key"; }
};
// Generates (once per directory) a test CA and a server certificate for 127.0.0.1.
absl::StatusOr<TestCa> MakeTestCa(const std::string& dir);

struct CallResult {
  absl::Status status;
  v1::CreateVerifyJobResponse response;
  std::string upstream_request_id;  // from the x-upstream-request-id trailer
};

class Harness {
 public:
  ~Harness();

  // Starts the emulator with `args` (beyond --listen). With `ca`, it serves HTTPS with the
  // CA's server certificate.
  absl::Status StartEmulator(std::vector<std::string> args = {}, const TestCa* ca = nullptr,
                             const std::string& listen = "127.0.0.1:0");
  // Starts a gateway pointed at the emulator, signing with the emulator's key unless `env`
  // overrides ALIBABA_CLOUD_*.
  absl::Status StartGateway(std::vector<std::string> args = {}, std::vector<std::string> env = {});

  // Starts one more gateway on the same emulator (replicas sharing an account); returns its
  // address.
  absl::StatusOr<std::string> StartAnotherGateway(std::vector<std::string> args);

  CallResult Create(const v1::CreateVerifyJobRequest& request,
                    absl::Duration deadline = absl::Seconds(10));
  v1::OtaVerify::Stub& stub() { return *stub_; }

  // The emulator's /_emulator/stats, and one number of it.
  google::protobuf::Struct EmulatorStats();
  double Stat(const std::string& name);
  // Arms an emulator fault for the next `count` requests (-1: until cleared), optionally only
  // for one action (or, for imds_* faults, one path kind).
  absl::Status ArmFault(const std::string& fault, int count = 1, int delay_ms = 0,
                        const std::string& action = "");
  // Calls one of the emulator's control endpoints; the body of a 200 answer.
  absl::StatusOr<std::string> EmulatorControl(const std::string& method, const std::string& path,
                                              const std::string& body = "");

  ChildProcess& emulator() { return *emulator_; }
  // The i-th gateway StartAnotherGateway started.
  ChildProcess& other_gateway(size_t i) { return *other_gateways_.at(i); }
  ChildProcess& gateway() { return *gateway_; }
  const std::string& emulator_url() const { return emulator_url_; }
  const std::string& gateway_address() const { return gateway_address_; }

  // A request for the emulator's demo seed.
  static v1::CreateVerifyJobRequest DemoRequest(const std::string& firmware = "demo-firmware-1");
  // Writes a seed with one product (`a1LoadProduct`, device `load-device-1`) and `firmwares`
  // unverified firmwares `load-fw-0`..; returns its path.
  static std::string WriteLoadSeed(int firmwares);
  static v1::CreateVerifyJobRequest LoadRequest(int firmware);

 private:
  std::unique_ptr<ChildProcess> emulator_;
  std::unique_ptr<ChildProcess> gateway_;
  std::vector<std::unique_ptr<ChildProcess>> other_gateways_;
  std::string emulator_url_;
  std::string emulator_ca_;
  std::string gateway_address_;
  std::unique_ptr<v1::OtaVerify::Stub> stub_;
};

}  // namespace otaverify::testing

#endif  // OTAVERIFY_TESTS_TESTING_HARNESS_H_
