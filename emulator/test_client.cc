#include "emulator/test_client.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {

TestClient::TestClient(int port) : client_(std::make_unique<httplib::Client>("127.0.0.1", port)) {
  endpoint_.base_url = absl::StrCat("http://127.0.0.1:", port);
  endpoint_.host = absl::StrCat("127.0.0.1:", port);
  endpoint_.secure = false;
  client_->set_keep_alive(true);
  // Requests arrive already percent-encoded by the signer; send the bytes unchanged.
  client_->set_url_encode(false);
  client_->set_read_timeout(10, 0);
}

TestClient::~TestClient() = default;

Credentials TestClient::DefaultCredentials() {
  Credentials credentials;
  credentials.access_key_id = "emulator-access-key-id";
  credentials.access_key_secret = "emulator-access-key-secret";
  credentials.source = "test";
  return credentials;
}

absl::StatusOr<TestReply> TestClient::Call(const RpcCall& call, SignatureVersion version,
                                           absl::Time now, absl::string_view nonce,
                                           const Credentials& credentials) {
  return Send(BuildSignedRequest(call, credentials, endpoint_, version, now, nonce));
}

absl::StatusOr<TestReply> TestClient::Send(const HttpRequest& request) {
  httplib::Request req;
  req.method = request.method;
  req.path = request.url;
  if (const size_t scheme = req.path.find("://"); scheme != std::string::npos) {
    const size_t slash = req.path.find('/', scheme + 3);
    req.path = slash == std::string::npos ? "/" : req.path.substr(slash);
  }
  for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
  req.body = request.body;
  httplib::Result result = client_->send(req);
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("emulator request failed: ", httplib::to_string(result.error())));
  }
  return TestReply{result->status, result->get_header_value("Content-Type"), result->body};
}

absl::StatusOr<TestReply> TestClient::Get(const std::string& path) {
  HttpRequest request;
  request.method = "GET";
  request.url = path;
  return Send(request);
}

absl::StatusOr<TestReply> TestClient::Post(const std::string& path) {
  HttpRequest request;
  request.method = "POST";
  request.url = path;
  return Send(request);
}

absl::StatusOr<google::protobuf::Struct> TestClient::ParseJson(absl::string_view body) {
  google::protobuf::Struct out;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", status.ToString(), ": ", body));
  }
  return out;
}

}  // namespace emulator
}  // namespace otaverify
