// Where STS requests go (credentials.md §1, §3): an explicit endpoint (a host, as ACK's RRSA
// webhook injects ALIBABA_CLOUD_STS_ENDPOINT, or a URL), else the regional or VPC endpoint of
// ALIBABA_CLOUD_STS_REGION, else https://sts.aliyuncs.com. Pure; thread-safe.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_STS_ENDPOINT_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_STS_ENDPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/aliyun/rpc_request.h"
#include "service/credentials/environment.h"

namespace otaverify {

struct StsOptions {
  // "sts-vpc.cn-hangzhou.aliyuncs.com", "https://sts.cn-hangzhou.aliyuncs.com" or, only with
  // allow_insecure_endpoint, "http://127.0.0.1:8080". Empty: from region / vpc below.
  std::string endpoint;
  std::string region;                    // "cn-hangzhou"; empty: the global endpoint
  bool vpc = false;                      // sts-vpc.<region>.aliyuncs.com (needs a region)
  bool allow_insecure_endpoint = false;  // plain http, for tests and loopback fakes
  absl::Duration timeout = absl::Seconds(10);
};

// ALIBABA_CLOUD_STS_ENDPOINT, ALIBABA_CLOUD_STS_REGION, ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED.
StsOptions StsOptionsFromEnvironment(const Environment& env, bool allow_insecure_endpoint);

// INVALID_ARGUMENT for a malformed endpoint, an http:// one not allowed, or vpc without region.
absl::StatusOr<Endpoint> ResolveStsEndpoint(const StsOptions& options);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_STS_ENDPOINT_H_
