// SourceDeps: what building a credentials source from configuration needs (profile files,
// SourceFromEnvironment). A plain bundle; the pointers are not owned and must outlive every
// source built with them.
#ifndef OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_DEPS_H_
#define OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_DEPS_H_

#include "service/common/clock.h"
#include "service/credentials/environment.h"
#include "service/transport/http_transport.h"

namespace otaverify {

struct SourceDeps {
  HttpTransport* transport = nullptr;  // for the IMDS and STS sources
  const Clock* clock = nullptr;
  Environment env = ProcessEnvironment();
  // Accept http:// STS endpoints (loopback fakes in tests); never in production.
  bool allow_insecure_sts_endpoint = false;
};

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_CREDENTIALS_SOURCE_DEPS_H_
