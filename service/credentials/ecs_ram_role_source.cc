#include "service/credentials/ecs_ram_role_source.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/aliyun/signer.h"
#include "service/credentials/credential_answer.h"

namespace otaverify {
namespace {

constexpr char kTokenPath[] = "/latest/api/token";
constexpr char kRolesPath[] = "/latest/meta-data/ram/security-credentials/";
constexpr char kTokenTtlHeader[] = "X-aliyun-ecs-metadata-token-ttl-seconds";
constexpr char kTokenHeader[] = "X-aliyun-ecs-metadata-token";

bool Ok(int status) { return status >= 200 && status < 300; }

// An IMDS HTTP error for `what`.
absl::Status ImdsHttpError(int status, absl::string_view what, bool with_token) {
  const std::string message = absl::StrCat("ECS metadata service: ", what, ": HTTP ", status);
  if (status == 404) return absl::FailedPreconditionError(message);
  if (status == 401 || status == 403) {
    return absl::FailedPreconditionError(
        with_token
            ? message
            : absl::StrCat(message,
                           " (the instance requires hardened mode and no token was issued)"));
  }
  return absl::UnavailableError(message);
}

}  // namespace

struct EcsRamRoleSource::FetchOp {
  Callback done;
  std::string role;
  std::optional<std::string> token;
  bool restarted = false;
};

EcsRamRoleSource::Options EcsRamRoleSource::OptionsFromEnvironment(const Environment& env) {
  Options options;
  const std::string endpoint(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_IMDS_ENDPOINT")));
  if (!endpoint.empty()) options.imds_base_url = endpoint;
  options.role_name = std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_ECS_METADATA")));
  options.imdsv1_disabled = EnvironmentFlag(env, "ALIBABA_CLOUD_IMDSV1_DISABLED");
  return options;
}

absl::StatusOr<std::unique_ptr<EcsRamRoleSource>> EcsRamRoleSource::Create(HttpTransport* transport,
                                                                           Options options,
                                                                           const Clock* clock) {
  const std::string url = absl::StrContains(options.imds_base_url, "://")
                              ? options.imds_base_url
                              : absl::StrCat("http://", options.imds_base_url);
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(url);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECS metadata endpoint: ", endpoint.status().message()));
  }
  if (options.token_ttl < absl::Seconds(1) || options.token_ttl > absl::Seconds(21600)) {
    return absl::InvalidArgumentError("ECS metadata token TTL must be within 1 s..6 h");
  }
  return std::unique_ptr<EcsRamRoleSource>(
      new EcsRamRoleSource(transport, std::move(options), *std::move(endpoint), clock));
}

EcsRamRoleSource::EcsRamRoleSource(HttpTransport* transport, Options options, Endpoint endpoint,
                                   const Clock* clock)
    : transport_(transport),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      clock_(clock) {}

void EcsRamRoleSource::Fetch(absl::Time now, Callback done) {
  auto op = std::make_shared<FetchOp>();
  op->done = std::move(done);
  Start(std::move(op));
}

void EcsRamRoleSource::Start(std::shared_ptr<FetchOp> op) {
  GetToken([this, op](absl::StatusOr<std::optional<std::string>> token) mutable {
    if (!token.ok()) {
      std::move(op->done)(token.status());
      return;
    }
    op->token = *std::move(token);
    if (options_.role_name.empty()) {
      DiscoverRole(std::move(op));
    } else {
      op->role = options_.role_name;
      GetCredentials(std::move(op));
    }
  });
}

void EcsRamRoleSource::GetToken(TokenCallback done) {
  const absl::Time now = clock_->Now();
  std::optional<std::string> cached;
  {
    absl::MutexLock lock(&mu_);
    if (!token_.empty() && now < token_valid_until_) cached = token_;
  }
  if (cached.has_value()) {
    std::move(done)(std::move(cached));
    return;
  }
  HttpRequest request;
  request.method = "PUT";
  request.url = absl::StrCat(endpoint_.base_url, kTokenPath);
  request.headers = {{kTokenTtlHeader, absl::StrCat(absl::ToInt64Seconds(options_.token_ttl))}};
  request.timeout = options_.timeout;
  request.no_proxy = true;
  // Counted from before the PUT was sent, and renewed a little before the TTL runs out.
  const absl::Time valid_until =
      now + options_.token_ttl - std::min(absl::Minutes(5), options_.token_ttl / 10);
  transport_->Send(std::move(request), [this, valid_until, done = std::move(done)](
                                           absl::StatusOr<HttpResponse> response) mutable {
    absl::Status failure;
    if (!response.ok()) {
      failure = CredentialsTransportFailure(response.status(), "ECS metadata token PUT");
    } else if (!Ok(response->status)) {
      failure = ImdsHttpError(response->status, "token PUT", /*with_token=*/false);
    } else {
      std::string token(absl::StripAsciiWhitespace(response->body));
      if (!token.empty()) {
        {
          absl::MutexLock lock(&mu_);
          token_ = token;
          token_valid_until_ = valid_until;
        }
        std::move(done)(std::optional<std::string>(std::move(token)));
        return;
      }
      failure = absl::UnavailableError("ECS metadata service: token PUT answered an empty token");
    }
    if (options_.imdsv1_disabled) {
      std::move(done)(
          absl::Status(failure.code(), absl::StrCat(failure.message(),
                                                    "; token-less access is disabled "
                                                    "(ALIBABA_CLOUD_IMDSV1_DISABLED=true)")));
      return;
    }
    std::move(done)(std::optional<std::string>());  // IMDSv1: go on without a token
  });
}

HttpRequest EcsRamRoleSource::Get(const std::string& path,
                                  const std::optional<std::string>& token) const {
  HttpRequest request;
  request.method = "GET";
  request.url = absl::StrCat(endpoint_.base_url, path);
  if (token.has_value()) request.headers.emplace_back(kTokenHeader, *token);
  request.timeout = options_.timeout;
  request.no_proxy = true;
  return request;
}

bool EcsRamRoleSource::RetryWithoutCachedToken(const std::shared_ptr<FetchOp>& op,
                                               int http_status) {
  if (http_status != 401 || !op->token.has_value() || op->restarted) return false;
  {
    absl::MutexLock lock(&mu_);
    if (token_ == *op->token) {
      token_.clear();
      token_valid_until_ = absl::InfinitePast();
    }
  }
  op->restarted = true;
  op->token.reset();
  Start(op);
  return true;
}

void EcsRamRoleSource::DiscoverRole(std::shared_ptr<FetchOp> op) {
  transport_->Send(Get(kRolesPath, op->token), [this, op](absl::StatusOr<HttpResponse> response) {
    if (!response.ok()) {
      std::move(op->done)(
          CredentialsTransportFailure(response.status(), "ECS metadata role discovery"));
      return;
    }
    if (RetryWithoutCachedToken(op, response->status)) return;
    if (!Ok(response->status)) {
      std::move(op->done)(ImdsHttpError(response->status,
                                        "role discovery (is a RAM role attached to this instance?)",
                                        op->token.has_value()));
      return;
    }
    for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty()) {
        op->role = std::string(line);
        break;
      }
    }
    if (op->role.empty()) {
      std::move(op->done)(absl::FailedPreconditionError(
          "ECS metadata service: no RAM role is attached to this instance"));
      return;
    }
    GetCredentials(op);
  });
}

void EcsRamRoleSource::GetCredentials(std::shared_ptr<FetchOp> op) {
  transport_->Send(
      Get(absl::StrCat(kRolesPath, PercentEncode(op->role)), op->token),
      [this, op](absl::StatusOr<HttpResponse> response) {
        const std::string what = absl::StrCat("credentials of role \"", op->role, "\"");
        if (!response.ok()) {
          std::move(op->done)(
              CredentialsTransportFailure(response.status(), absl::StrCat("ECS metadata ", what)));
          return;
        }
        if (RetryWithoutCachedToken(op, response->status)) return;
        if (!Ok(response->status)) {
          std::move(op->done)(ImdsHttpError(response->status, what, op->token.has_value()));
          return;
        }
        std::move(op->done)(ParseEcsRamRoleCredentials(response->body, "ecs_ram_role"));
      });
}

}  // namespace otaverify
