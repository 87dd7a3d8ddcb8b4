#include "service/credentials/sts_endpoint.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace otaverify {

StsOptions StsOptionsFromEnvironment(const Environment& env, bool allow_insecure_endpoint) {
  StsOptions options;
  options.endpoint = std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_STS_ENDPOINT")));
  options.region = std::string(absl::StripAsciiWhitespace(env("ALIBABA_CLOUD_STS_REGION")));
  options.vpc = EnvironmentFlag(env, "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED");
  options.allow_insecure_endpoint = allow_insecure_endpoint;
  return options;
}

absl::StatusOr<Endpoint> ResolveStsEndpoint(const StsOptions& options) {
  std::string url;
  if (!options.endpoint.empty()) {
    url = absl::StrContains(options.endpoint, "://") ? options.endpoint
                                                     : absl::StrCat("https://", options.endpoint);
  } else if (!options.region.empty()) {
    if (options.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
        std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("STS region \"", options.region, "\" is not a region id"));
    }
    url = absl::StrCat("https://sts", options.vpc ? "-vpc." : ".", options.region, ".aliyuncs.com");
  } else if (options.vpc) {
    return absl::InvalidArgumentError(
        "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED needs ALIBABA_CLOUD_STS_REGION (or "
        "ALIBABA_CLOUD_STS_ENDPOINT)");
  } else {
    url = "https://sts.aliyuncs.com";
  }
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(url);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("STS endpoint: ", endpoint.status().message()));
  }
  if (!endpoint->secure && !options.allow_insecure_endpoint) {
    return absl::InvalidArgumentError(
        absl::StrCat("STS endpoint \"", url,
                     "\" is plain http: the OIDC token and the credentials would "
                     "travel in clear text (allowed only for local testing)"));
  }
  return endpoint;
}

}  // namespace otaverify
