#include "service/aliyun/rpc_request.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace otaverify {
namespace {

constexpr char kEmptyBodySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace

absl::StatusOr<SignatureVersion> ParseSignatureVersion(absl::string_view text) {
  if (text == "v1") return SignatureVersion::kV1;
  if (text == "v3") return SignatureVersion::kV3;
  return absl::InvalidArgumentError(
      absl::StrCat("signature version must be v1 or v3, got \"", text, "\""));
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view url) {
  Endpoint out;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    out.secure = true;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    out.secure = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint \"", url, "\" must start with https:// or http://"));
  }
  absl::ConsumeSuffix(&rest, "/");
  if (rest.empty() || rest.find_first_of("/?#@ ") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint \"", url, "\" must be scheme://host[:port] with no path"));
  }
  out.host = absl::AsciiStrToLower(rest);
  out.base_url = absl::StrCat(out.secure ? "https://" : "http://", out.host);
  return out;
}

std::string FormatAliyunTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

SignedRequest SignRpcCall(const RpcCall& call, const Credentials& credentials,
                          const Endpoint& endpoint, SignatureVersion version, absl::Time now,
                          absl::string_view nonce) {
  SignedRequest out;
  HttpRequest& request = out.request;
  request.method = call.method;
  const std::string timestamp = FormatAliyunTime(now);
  request.headers = {{"Host", endpoint.host}, {"Accept", "application/json"}};

  if (version == SignatureVersion::kV1) {
    Params params = {
        {"Action", call.action},
        {"Version", call.version},
        {"Format", "JSON"},
        {"AccessKeyId", credentials.access_key_id},
        {"SignatureMethod", "HMAC-SHA1"},
        {"SignatureVersion", "1.0"},
        {"SignatureNonce", std::string(nonce)},
        {"Timestamp", timestamp},
    };
    if (!credentials.security_token.empty()) {
      params.emplace_back("SecurityToken", credentials.security_token);
    }
    for (const auto& param : call.params) {
      auto common = std::find_if(params.begin(), params.end(),
                                 [&](const auto& p) { return p.first == param.first; });
      if (common != params.end()) {
        common->second = param.second;
      } else {
        params.push_back(param);
      }
    }
    out.canonical = CanonicalQuery(params);
    out.string_to_sign = StringToSignV1(request.method, out.canonical);
    out.signature = SignatureV1(credentials.access_key_secret, out.string_to_sign);
    params.emplace_back("Signature", out.signature);
    request.url = absl::StrCat(endpoint.base_url, "/?", EncodeParams(params));
    return out;
  }

  Params signed_headers = {
      {"host", endpoint.host},
      {"x-acs-action", call.action},
      {"x-acs-version", call.version},
      {"x-acs-date", timestamp},
      {"x-acs-signature-nonce", std::string(nonce)},
      {"x-acs-content-sha256", kEmptyBodySha256},
  };
  if (!credentials.security_token.empty()) {
    signed_headers.emplace_back("x-acs-security-token", credentials.security_token);
  }
  for (const auto& header : call.extra_signed_headers) signed_headers.push_back(header);
  const CanonicalRequestV3 canonical = BuildCanonicalRequestV3(
      request.method, CanonicalQuery(call.params), signed_headers, kEmptyBodySha256);
  out.canonical = canonical.canonical_request;
  out.string_to_sign = StringToSignV3(out.canonical);
  out.signature = SignatureV3(credentials.access_key_secret, out.string_to_sign);
  out.authorization =
      AuthorizationV3(credentials.access_key_id, canonical.signed_header_names, out.signature);
  for (auto& header : signed_headers) {
    if (header.first != "host") request.headers.push_back(std::move(header));
  }
  request.headers.emplace_back("Authorization", out.authorization);
  request.url = absl::StrCat(endpoint.base_url, "/", call.params.empty() ? "" : "?",
                             EncodeParams(call.params));
  return out;
}

HttpRequest BuildSignedRequest(const RpcCall& call, const Credentials& credentials,
                               const Endpoint& endpoint, SignatureVersion version, absl::Time now,
                               absl::string_view nonce) {
  return SignRpcCall(call, credentials, endpoint, version, now, nonce).request;
}

}  // namespace otaverify
