// TestClient: talks to a running emulator the way the gateway does — requests built and signed
// by service/aliyun/rpc_request.h, sent over one keep-alive connection (cpp-httplib) — for the
// emulator's unit tests and any integration test that needs to poke the emulator directly.
//
// Not thread-safe: one client per thread.
#ifndef OTAVERIFY_EMULATOR_TEST_CLIENT_H_
#define OTAVERIFY_EMULATOR_TEST_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/credentials.h"
#include "service/transport/http_transport.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace otaverify {
namespace emulator {

struct TestReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class TestClient {
 public:
  explicit TestClient(int port);
  ~TestClient();

  // The emulator's default key pair.
  static Credentials DefaultCredentials();

  const Endpoint& endpoint() const { return endpoint_; }

  // BuildSignedRequest(call, credentials, endpoint(), version, now, nonce), then Send().
  absl::StatusOr<TestReply> Call(const RpcCall& call, SignatureVersion version, absl::Time now,
                                 absl::string_view nonce,
                                 const Credentials& credentials = DefaultCredentials());

  // Sends `request` as is. `request.url` may be a full URL or a path with query.
  absl::StatusOr<TestReply> Send(const HttpRequest& request);

  absl::StatusOr<TestReply> Get(const std::string& path);
  absl::StatusOr<TestReply> Post(const std::string& path);

  // Parses a JSON body into a Struct, for assertions.
  static absl::StatusOr<google::protobuf::Struct> ParseJson(absl::string_view body);

 private:
  Endpoint endpoint_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_TEST_CLIENT_H_
