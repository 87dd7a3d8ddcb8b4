// Fuzz target: the emulator's request path, independent of the HTTP library — RpcService::Handle
// (path check, STS dispatch, Authenticator, action dispatch, business rules, rendering) and the
// parsers under it (ParseQueryString, ParseRpcParams, PeekAction / PeekVersion, ParseAliyunTime),
// plus the JSON bodies of the test hooks (faults, quota, credentials, paging, seed).
//
// The first byte picks the mode:
//   0 raw:    "METHOD\nTARGET\nname: value\n...\n\nBODY" as received;
//   1 signed: a call built from the input and signed with the emulator's key by the gateway's
//             own signer (V1 or V3), so the fuzzer reaches the actions' business rules;
//   2 hooks:  a test hook's JSON body (the second byte picks the hook);
//   3 query:  a query string and a timestamp.
//
// Properties beyond "no crash": every reply has a status, a content type, a request id and a
// body that is well-formed JSON (or XML with balanced, escaped markup); a correctly signed call
// never fails authentication (sign and verify agree on every parameter set); a decoded query
// re-encodes to one that decodes to the same pairs; hook updates that succeed validate.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/emulator_state.h"
#include "emulator/fault_injector.h"
#include "emulator/id_generator.h"
#include "emulator/issued_credentials.h"
#include "emulator/paging.h"
#include "emulator/quota.h"
#include "emulator/rpc_service.h"
#include "emulator/seed.h"
#include "emulator/stats.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "service/aliyun/rpc_request.h"
#include "service/aliyun/signer.h"
#include "service/common/clock.h"
#include "tests/fuzz/require.h"

namespace otaverify {
namespace emulator {
namespace {

// One emulator, built once; its state is reset every kResetEvery inputs so created jobs and
// remembered nonces stay bounded.
struct Emulator {
  static constexpr int kResetEvery = 2000;

  Emulator()
      : clock(absl::FromUnixSeconds(1767225600)),  // 2026-01-01T00:00:00Z
        state(DemoSeed(), SimulationSettings{}, &clock),
        credential_settings(CredentialSettings{}),
        issued(&ids),
        quota(QuotaSettings{}),
        page_cap(kDefaultMaxPageSize),
        rpc(key, &clock, &state, &ids, &credential_settings, &issued, &quota, &stats, &page_cap) {}

  void MaybeReset() {
    if (++inputs % kResetEvery != 0) return;
    state.Reset();
    rpc.Reset();
    issued.Clear();
    stats.Reset();
  }

  AccessKey key = {"emulator-access-key-id", "emulator-access-key-secret", ""};
  ManualClock clock;
  EmulatorState state;
  IdGenerator ids;
  CredentialSettingsStore credential_settings;
  IssuedCredentialStore issued;
  QuotaLimiter quota;
  EmulatorStats stats;
  PageSizeCap page_cap;
  RpcService rpc;
  uint64_t inputs = 0;
  uint64_t nonce = 0;
};

Emulator& TheEmulator() {
  static Emulator* emulator = new Emulator();
  return *emulator;
}

// Well-formed enough for a client: JSON parses; XML has every '<' closed and every '&' an
// entity (so fuzz text never turns into markup).
void CheckReply(const RpcHttpReply& reply) {
  Require(reply.status >= 200 && reply.status < 600, "a reply has an HTTP status");
  Require(!reply.request_id.empty(), "a reply has a request id");
  Require(!reply.content_type.empty() && !reply.body.empty(), "a reply has a typed body");
  // Business errors come with HTTP 200 too (protocol.md §8); a success never with another.
  if (reply.outcome == "success") Require(reply.status == 200, "a success is HTTP 200");
  if (absl::StartsWith(reply.content_type, "application/json")) {
    google::protobuf::Struct parsed;
    Require(google::protobuf::util::JsonStringToMessage(reply.body, &parsed).ok(),
            "a JSON reply parses as a JSON object");
    auto id = parsed.fields().find("RequestId");
    Require(id != parsed.fields().end() && id->second.string_value() == reply.request_id,
            "a JSON reply carries its RequestId");
    return;
  }
  Require(absl::StrContains(reply.content_type, "xml"), "a reply is JSON or XML");
  int depth = 0;
  for (size_t i = 0; i < reply.body.size(); ++i) {
    const char c = reply.body[i];
    if (c == '<') {
      Require(depth == 0, "XML markup does not nest inside a tag");
      ++depth;
    } else if (c == '>') {
      Require(depth == 1, "XML '>' only closes a tag");
      --depth;
    } else if (c == '&') {
      const absl::string_view rest = absl::string_view(reply.body).substr(i + 1);
      Require(absl::StartsWith(rest, "lt;") || absl::StartsWith(rest, "gt;") ||
                  absl::StartsWith(rest, "amp;") || absl::StartsWith(rest, "quot;") ||
                  absl::StartsWith(rest, "apos;") || absl::StartsWith(rest, "#"),
              "XML '&' starts an entity");
    }
  }
  Require(depth == 0, "XML tags are closed");
}

// "METHOD\nTARGET\nname: value\n...\n\nBODY".
RpcHttpRequest RawRequest(absl::string_view text) {
  RpcHttpRequest request;
  const size_t blank = text.find("\n\n");
  const absl::string_view head = text.substr(0, blank);
  if (blank != absl::string_view::npos) request.body = std::string(text.substr(blank + 2));
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  if (!lines.empty()) request.method = std::string(lines[0]);
  if (lines.size() > 1) request.target = std::string(lines[1]);
  for (size_t i = 2; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    std::string name(lines[i].substr(0, colon));
    absl::AsciiStrToLower(&name);
    const std::string value(colon == absl::string_view::npos
                                ? absl::string_view()
                                : absl::StripLeadingAsciiWhitespace(lines[i].substr(colon + 1)));
    request.headers.emplace_back(std::move(name), value);
  }
  return request;
}

void FuzzRaw(Emulator& emulator, absl::string_view text) {
  const RpcHttpRequest request = RawRequest(text);
  Params params;
  std::map<std::string, std::string> by_name;
  (void)ParseRpcParams(request, &params, &by_name);
  (void)PeekAction(request);
  (void)PeekVersion(request);
  CheckReply(emulator.rpc.Handle(request));
}

constexpr const char* kActions[] = {
    "CreateOTAVerifyJob", "QueryOTAFirmware", "ListOTAJobByFirmware", "QueryOTAJob",
    "ListOTATaskByJob",   "CancelOTATaskByJob", "AssumeRole",        "AssumeRoleWithOIDC"};
constexpr const char* kParamNames[] = {
    "ProductKey",       "FirmwareId",         "IotInstanceId",       "TargetDeviceName.1",
    "TargetDeviceName.2", "TimeoutInMinutes", "NeedConfirm",         "NeedPush",
    "Tag.1.Key",        "Tag.1.Value",        "JobId",               "CurrentPage",
    "PageSize",         "TaskStatus",         "DeviceNames.1",       "CancelQueuedTask",
    "CancelInProgressTask", "CancelUnconfirmedTask", "CancelNotifiedTask", "RoleArn",
    "RoleSessionName",  "DurationSeconds",    "Policy",              "OIDCProviderArn",
    "OIDCToken"};
constexpr const char* kParamValues[] = {
    "a1DemoProduct", "demo-firmware-1", "demo-firmware-2", "iot-demo-instance", "demo-device-1",
    "demo-device-fail", "true", "false", "1", "100", "0", "-1", "99999999999999999999",
    "QUEUED", "SUCCEEDED", "acs:ram::1234567890123456:role/emulator-role", "3600",
    "emulator-oidc-token"};

std::string PickOrMake(FuzzedDataProvider& input, const char* const* known, size_t count) {
  if (input.ConsumeBool()) return known[input.ConsumeIntegralInRange<size_t>(0, count - 1)];
  return input.ConsumeRandomLengthString(24);
}

bool IsCommonV1Param(absl::string_view name) {
  for (const char* common : {"Action", "Version", "Format", "AccessKeyId", "SignatureMethod",
                             "SignatureVersion", "SignatureNonce", "Timestamp", "SecurityToken",
                             "Signature"}) {
    if (name == common) return true;
  }
  return false;
}

void FuzzSigned(Emulator& emulator, FuzzedDataProvider& input) {
  RpcCall call;
  const bool v3 = input.ConsumeBool();
  call.action = PickOrMake(input, kActions, std::size(kActions));
  call.method = input.ConsumeBool() ? "POST" : "GET";
  const uint8_t version = input.ConsumeIntegral<uint8_t>();
  call.version = version < 200 ? "2018-01-20" : version < 250 ? "2015-04-01"
                                                              : input.ConsumeRandomLengthString(12);
  // A call the gateway could send: no name twice, none that V1 adds itself.
  bool plain = true;
  std::set<std::string> names;
  const size_t count = input.ConsumeIntegralInRange<size_t>(0, 10);
  for (size_t i = 0; i < count; ++i) {
    std::string name = PickOrMake(input, kParamNames, std::size(kParamNames));
    std::string value = PickOrMake(input, kParamValues, std::size(kParamValues));
    plain = plain && names.insert(name).second && !(!v3 && IsCommonV1Param(name));
    call.params.emplace_back(std::move(name), std::move(value));
  }
  Credentials credentials;
  credentials.access_key_id = emulator.key.id;
  credentials.access_key_secret = emulator.key.secret;
  Endpoint endpoint;
  endpoint.base_url = "http://127.0.0.1:18080";
  endpoint.host = "127.0.0.1:18080";
  endpoint.secure = false;
  const HttpRequest signed_request =
      BuildSignedRequest(call, credentials, endpoint, v3 ? SignatureVersion::kV3 : SignatureVersion::kV1,
                         emulator.clock.Now(), absl::StrCat("fuzz-nonce-", ++emulator.nonce));

  RpcHttpRequest request;
  request.method = signed_request.method;
  request.target = signed_request.url.substr(endpoint.base_url.size());
  request.body = signed_request.body;
  request.headers.emplace_back("host", endpoint.host);
  for (const auto& [name, value] : signed_request.headers) {
    request.headers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  const RpcHttpReply reply = emulator.rpc.Handle(request);
  CheckReply(reply);
  if (plain && !reply.sts) {
    for (const char* refused : {"SignatureDoesNotMatch", "IncompleteSignature",
                                "InvalidTimeStamp.Format", "InvalidTimeStamp.Expired",
                                "SignatureNonceUsed", "InvalidAccessKeyId.NotFound"}) {
      if (reply.outcome == refused) {
        std::fprintf(stderr, "signed %s %s answered %s: %s\n", v3 ? "V3" : "V1",
                     request.target.c_str(), reply.outcome.c_str(), reply.body.c_str());
      }
      Require(reply.outcome != refused, "a correctly signed call passes authentication");
    }
  }
}

void FuzzHooks(Emulator& emulator, uint8_t which, absl::string_view json) {
  switch (which % 5) {
    case 0:
      (void)ParseFault(json);
      break;
    case 1: {
      auto updated = ApplyQuotaUpdate(json, QuotaSettings{});
      if (updated.ok()) Require(ValidateQuotaSettings(*updated).ok(), "quota updates validate");
      break;
    }
    case 2: {
      auto updated = ApplyCredentialSettingsUpdate(json, CredentialSettings{});
      if (updated.ok()) {
        Require(ValidateCredentialSettings(*updated).ok(), "credential updates validate");
      }
      break;
    }
    case 3: {
      PageSizeCap cap(kDefaultMaxPageSize);
      if (cap.Update(json).ok()) Require(ValidateMaxPageSize(cap.Get()).ok(), "page caps validate");
      break;
    }
    case 4: {
      auto seed = ParseSeedJson(json);
      if (seed.ok()) Require(ValidateSeed(*seed).ok(), "parsed seeds validate");
      break;
    }
  }
  (void)emulator;
}

void FuzzQuery(absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (ParseQueryString(text, &pairs)) {
    std::vector<std::pair<std::string, std::string>> again;
    Require(ParseQueryString(EncodeParams(pairs), &again), "an encoded query parses");
    // Empty names and values survive; only wholly empty parts ("&&") are skipped.
    Require(again == pairs, "a parsed query re-encodes to the same pairs");
  }
  absl::Time t;
  if (ParseAliyunTime(text, &t)) {
    Require(FormatAliyunTime(t) == text, "a parsed timestamp formats back to itself");
  }
}

}  // namespace
}  // namespace emulator
}  // namespace otaverify

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace otaverify::emulator;  // NOLINT: a fuzz entry point
  if (size < 2) return 0;
  Emulator& emulator = TheEmulator();
  emulator.MaybeReset();
  const absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      FuzzRaw(emulator, rest);
      break;
    case 1: {
      FuzzedDataProvider input(data + 1, size - 1);
      FuzzSigned(emulator, input);
      break;
    }
    case 2:
      FuzzHooks(emulator, data[1], rest.substr(1));
      break;
    case 3:
      FuzzQuery(rest);
      break;
  }
  return 0;
}
