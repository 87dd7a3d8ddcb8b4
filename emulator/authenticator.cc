#include "emulator/authenticator.h"

#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/aliyun/signer.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kV3Prefix[] = "ACS3-HMAC-SHA256 ";

// Parameters of the V1 envelope; everything else is the action's business.
const std::set<std::string>& CommonV1Params() {
  static const auto* const names = new std::set<std::string>{
      "Action",           "Version",        "Format",    "AccessKeyId",   "SignatureMethod",
      "SignatureVersion", "SignatureNonce", "Timestamp", "SecurityToken", "Signature"};
  return *names;
}

ApiError Malformed(absl::string_view message) {
  return GatewayError(400, "InvalidParameter", std::string(message));
}

ApiError MissingParameter(absl::string_view name) {
  // The service's wording for a missing common parameter.
  return GatewayError(400, absl::StrCat("Missing", name),
                      absl::StrCat("The input parameter \"", name,
                                   "\" that is mandatory for processing this request is not "
                                   "supplied."));
}

ApiError MissingHeader(absl::string_view name) {
  return GatewayError(400, "MissingParameter",
                      absl::StrCat("The request header \"", name,
                                   "\" that is mandatory for processing this request is not "
                                   "supplied."));
}

ApiError Incomplete(absl::string_view message) {
  return GatewayError(400, "IncompleteSignature", std::string(message));
}

ApiError SignatureMismatch(absl::string_view detail) {
  return GatewayError(
      400, "SignatureDoesNotMatch",
      absl::StrCat("Specified signature is not matched with our calculation. ", detail));
}

// Everything the common checks need, whichever signature version carried it.
struct Envelope {
  std::string access_key_id;
  std::string timestamp;
  std::string nonce;
  const std::string* security_token = nullptr;
};

}  // namespace

const std::string* RpcHttpRequest::Header(absl::string_view name) const {
  for (const auto& header : headers) {
    if (header.first == name) return &header.second;
  }
  return nullptr;
}

bool ParseQueryString(absl::string_view query,
                      std::vector<std::pair<std::string, std::string>>* out) {
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    std::string name;
    std::string value;
    if (!PercentDecode(part.substr(0, eq), &name)) return false;
    if (eq != absl::string_view::npos && !PercentDecode(part.substr(eq + 1), &value)) {
      return false;
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

bool ParseAliyunTime(absl::string_view text, absl::Time* out) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != sizeof(kShape) - 1) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool ok = kShape[i] == 'd' ? absl::ascii_isdigit(static_cast<unsigned char>(text[i]))
                                     : text[i] == kShape[i];
    if (!ok) return false;
  }
  std::string error;
  return absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", text, absl::UTCTimeZone(), out, &error);
}

bool NonceCache::Insert(absl::string_view key_id, absl::string_view nonce, absl::Time now) {
  std::string key = absl::StrCat(key_id, "\n", nonce);
  absl::MutexLock lock(&mu_);
  while (!order_.empty() &&
         (order_.front().first < now - window_ || order_.size() >= max_entries_)) {
    seen_.erase(order_.front().second);
    order_.pop_front();
  }
  if (!seen_.insert(key).second) return false;
  order_.emplace_back(now, std::move(key));
  return true;
}

void NonceCache::Clear() {
  absl::MutexLock lock(&mu_);
  seen_.clear();
  order_.clear();
}

std::optional<ApiError> ParseRpcParams(const RpcHttpRequest& request, Params* params,
                                       std::map<std::string, std::string>* by_name) {
  // Parameters: the query plus a form body, signed together (protocol.md §1).
  const size_t question = request.target.find('?');
  const absl::string_view query = question == std::string::npos
                                      ? absl::string_view()
                                      : absl::string_view(request.target).substr(question + 1);
  if (!ParseQueryString(query, params)) {
    return Malformed("The query string has a malformed percent-encoding.");
  }
  const std::string* content_type = request.Header("content-type");
  if (content_type != nullptr && !request.body.empty() &&
      absl::StartsWithIgnoreCase(*content_type, "application/x-www-form-urlencoded") &&
      !ParseQueryString(request.body, params)) {
    return Malformed("The form body has a malformed percent-encoding.");
  }
  for (const auto& [name, value] : *params) {
    if (!by_name->emplace(name, value).second) {
      return Malformed(absl::StrCat("The parameter ", name, " is given more than once."));
    }
  }
  return std::nullopt;
}

namespace {

// The header (V3) or else the query / form parameter (V1) `param`, without validation.
std::string PeekField(const RpcHttpRequest& request, absl::string_view header,
                      absl::string_view param) {
  if (const std::string* value = request.Header(header)) return *value;
  const size_t question = request.target.find('?');
  const absl::string_view query =
      question == std::string::npos ? "" : absl::string_view(request.target).substr(question + 1);
  for (absl::string_view text : {query, absl::string_view(request.body)}) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!ParseQueryString(text, &params)) continue;
    for (const auto& [name, value] : params) {
      if (name == param) return value;
    }
  }
  return "";
}

}  // namespace

std::string PeekAction(const RpcHttpRequest& request) {
  return PeekField(request, "x-acs-action", "Action");
}

std::string PeekVersion(const RpcHttpRequest& request) {
  return PeekField(request, "x-acs-version", "Version");
}

std::optional<ApiError> Authenticator::Authenticate(const RpcHttpRequest& request,
                                                    AuthenticatedCall* call,
                                                    absl::string_view api_version) {
  Params params;
  std::map<std::string, std::string> by_name;
  if (std::optional<ApiError> malformed = ParseRpcParams(request, &params, &by_name)) {
    return malformed;
  }
  auto param = [&by_name](absl::string_view name) -> const std::string* {
    auto it = by_name.find(std::string(name));
    return it == by_name.end() ? nullptr : &it->second;
  };

  Envelope envelope;
  // The secret of the key the request names, known once the key is looked up.
  std::string secret;
  // Evaluated only once the cheap checks pass, as the service does: returns the mismatch, if
  // any.
  std::function<std::optional<ApiError>()> check_signature;
  const std::string* authorization = request.Header("authorization");

  if (authorization != nullptr && absl::StartsWith(*authorization, kV3Prefix)) {
    // ---- V3 (protocol.md §5) ----
    call->json = true;
    std::map<std::string, std::string> fields;
    for (absl::string_view part :
         absl::StrSplit(absl::string_view(*authorization).substr(sizeof(kV3Prefix) - 1), ',')) {
      part = absl::StripAsciiWhitespace(part);
      const size_t eq = part.find('=');
      if (eq == absl::string_view::npos) continue;
      fields[std::string(part.substr(0, eq))] = std::string(part.substr(eq + 1));
    }
    for (const char* field : {"Credential", "SignedHeaders", "Signature"}) {
      if (fields.count(field) == 0 || fields[field].empty()) {
        return Incomplete(absl::StrCat("The Authorization header lacks ", field, "."));
      }
    }
    std::vector<std::string> signed_names =
        absl::StrSplit(fields["SignedHeaders"], ';', absl::SkipEmpty());
    const std::set<std::string> signed_set(signed_names.begin(), signed_names.end());

    if (const std::string* action = request.Header("x-acs-action")) call->action = *action;
    for (const char* name : {"host", "x-acs-action", "x-acs-version", "x-acs-date",
                             "x-acs-signature-nonce", "x-acs-content-sha256"}) {
      if (request.Header(name) == nullptr) return MissingHeader(name);
      if (signed_set.count(name) == 0) {
        return Incomplete(absl::StrCat("The header ", name, " must be signed."));
      }
    }
    envelope.security_token = request.Header("x-acs-security-token");
    if (envelope.security_token != nullptr && signed_set.count("x-acs-security-token") == 0) {
      return Incomplete("The header x-acs-security-token must be signed.");
    }
    Params signed_headers;
    for (const std::string& name : signed_names) {
      const std::string* value = request.Header(name);
      if (value == nullptr) {
        return Incomplete(absl::StrCat("The signed header ", name, " is not in the request."));
      }
      signed_headers.emplace_back(name, *value);
    }
    call->api_version = *request.Header("x-acs-version");
    envelope.access_key_id = fields["Credential"];
    envelope.timestamp = *request.Header("x-acs-date");
    envelope.nonce = *request.Header("x-acs-signature-nonce");

    check_signature = [&request, &params, &secret, signed_headers = std::move(signed_headers),
                       claimed = fields["Signature"]]() -> std::optional<ApiError> {
      const std::string& claimed_sha = *request.Header("x-acs-content-sha256");
      const std::string body_sha = Sha256Hex(request.body);
      if (claimed_sha != body_sha) {
        return SignatureMismatch(absl::StrCat("x-acs-content-sha256 is ", claimed_sha,
                                              " but the body hashes to ", body_sha, "."));
      }
      const CanonicalRequestV3 canonical =
          BuildCanonicalRequestV3(request.method, CanonicalQuery(params), signed_headers, body_sha);
      const std::string string_to_sign = StringToSignV3(canonical.canonical_request);
      if (SignatureV3(secret, string_to_sign) == claimed) return std::nullopt;
      return SignatureMismatch(
          absl::StrCat("server string to sign is:", string_to_sign,
                       " server canonical request is:", canonical.canonical_request));
    };
    for (const auto& [name, value] : by_name) call->business_params.emplace(name, value);
  } else if (param("Signature") != nullptr) {
    // ---- V1 (protocol.md §4) ----
    const std::string* format = param("Format");
    call->json = format != nullptr && absl::EqualsIgnoreCase(*format, "JSON");
    if (const std::string* action = param("Action")) call->action = *action;
    for (const char* name : {"Action", "Version", "AccessKeyId", "SignatureMethod",
                             "SignatureVersion", "SignatureNonce", "Timestamp"}) {
      if (param(name) == nullptr) return MissingParameter(name);
    }
    if (*param("SignatureMethod") != "HMAC-SHA1") {
      return GatewayError(400, "InvalidSignatureMethod",
                          absl::StrCat("Specified signature method ", *param("SignatureMethod"),
                                       " is not supported; use HMAC-SHA1."));
    }
    if (*param("SignatureVersion") != "1.0") {
      return GatewayError(400, "InvalidSignatureVersion",
                          absl::StrCat("Specified signature version ", *param("SignatureVersion"),
                                       " is not supported; use 1.0."));
    }
    call->api_version = *param("Version");
    envelope.access_key_id = *param("AccessKeyId");
    envelope.timestamp = *param("Timestamp");
    envelope.nonce = *param("SignatureNonce");
    envelope.security_token = param("SecurityToken");

    check_signature = [&request, &params, &secret,
                       claimed = *param("Signature")]() -> std::optional<ApiError> {
      Params signed_params;
      for (const auto& p : params) {
        if (p.first != "Signature") signed_params.push_back(p);
      }
      // METHOD is the real wire method: a GET signed as POST must fail (protocol.md §4).
      const std::string string_to_sign =
          StringToSignV1(request.method, CanonicalQuery(std::move(signed_params)));
      if (SignatureV1(secret, string_to_sign) == claimed) return std::nullopt;
      return SignatureMismatch(absl::StrCat("server string to sign is:", string_to_sign));
    };
    for (const auto& [name, value] : by_name) {
      if (CommonV1Params().count(name) == 0) call->business_params.emplace(name, value);
    }
  } else {
    if (const std::string* format = param("Format")) {
      call->json = absl::EqualsIgnoreCase(*format, "JSON");
    }
    if (const std::string* action = param("Action")) call->action = *action;
    return Incomplete(
        "The request carries neither an ACS3-HMAC-SHA256 Authorization header nor a "
        "Signature parameter.");
  }

  // ---- Common checks, in the service's order ----
  const absl::Time now = clock_->Now();
  std::optional<IssuedCredential> issued;
  if (envelope.access_key_id != key_.id && issued_ != nullptr) {
    issued = issued_->Find(envelope.access_key_id);
  }
  if (envelope.access_key_id == key_.id) {
    secret = key_.secret;
    if (!key_.security_token.empty()) {
      if (envelope.security_token == nullptr) {
        return GatewayError(400, "MissingSecurityToken",
                            "SecurityToken is mandatory for this access key.");
      }
      if (*envelope.security_token != key_.security_token) {
        return GatewayError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                            "Specified SecurityToken mismatch with the AccessKey.");
      }
    }
  } else if (issued.has_value()) {
    // STS credentials the emulator issued: the token must come along and be theirs, and they
    // are good until their Expiration.
    secret = issued->access_key_secret;
    if (envelope.security_token == nullptr) {
      return GatewayError(400, "MissingSecurityToken",
                          "SecurityToken is mandatory for this access key.");
    }
    if (*envelope.security_token != issued->security_token) {
      return GatewayError(400, "InvalidSecurityToken.MismatchWithAccessKey",
                          "Specified SecurityToken mismatch with the AccessKey.");
    }
    if (now >= issued->expiration) {
      return GatewayError(400, "InvalidSecurityToken.Expired",
                          absl::StrCat("Specified SecurityToken is expired: it expired at ",
                                       FormatUtcSeconds(issued->expiration), "."));
    }
  } else {
    return GatewayError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
  }
  call->access_key_id = envelope.access_key_id;
  absl::Time timestamp;
  if (!ParseAliyunTime(envelope.timestamp, &timestamp)) {
    return GatewayError(400, "InvalidTimeStamp.Format",
                        absl::StrCat("Specified time stamp or date value \"", envelope.timestamp,
                                     "\" is not well formatted: want YYYY-MM-DDThh:mm:ssZ."));
  }
  if (absl::AbsDuration(now - timestamp) > kTimestampWindow) {
    return GatewayError(
        400, "InvalidTimeStamp.Expired",
        absl::StrCat("Specified time stamp or date value is expired: ", envelope.timestamp,
                     " is more than 15 minutes from ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", now, absl::UTCTimeZone()), "."));
  }
  if (std::optional<ApiError> mismatch = check_signature()) return mismatch;
  if (!nonces_.Insert(envelope.access_key_id, envelope.nonce, now)) {
    return GatewayError(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
  }
  if (call->api_version != api_version) {
    return GatewayError(400, "InvalidVersion",
                        absl::StrCat("Specified parameter Version \"", call->api_version,
                                     "\" is not valid; this product speaks ", api_version, "."));
  }
  return std::nullopt;
}

}  // namespace emulator
}  // namespace otaverify
