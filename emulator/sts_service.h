// StsService: a fake of STS (`Sts`, 2015-04-01, RPC style; credentials.md §3) behind the same
// "/" endpoint as the IoT API — AssumeRoleWithOIDC (unsigned) and AssumeRole (V1/V3-signed by a
// key the emulator knows, checked by the shared Authenticator: nonces, timestamps,
// signatures). Issued triples go to the IssuedCredentialStore, so the IoT API accepts them.
//
// Independent of the HTTP library; RpcService dispatches here on Version 2015-04-01.
// Thread-safe. Everything passed in must outlive the service.
#ifndef OTAVERIFY_EMULATOR_STS_SERVICE_H_
#define OTAVERIFY_EMULATOR_STS_SERVICE_H_

#include <map>
#include <optional>
#include <string>

#include "emulator/api_error.h"
#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/id_generator.h"
#include "emulator/issued_credentials.h"
#include "emulator/response.h"
#include "emulator/stats.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {

inline constexpr char kAssumeRoleWithOidc[] = "AssumeRoleWithOIDC";
inline constexpr char kAssumeRole[] = "AssumeRole";

// One STS answer: the HTTP status, the rendered body, and for the stats "success" or the error
// Code.
struct StsResult {
  int status = 200;
  Body body;
  std::string outcome;
};

class StsService {
 public:
  StsService(Authenticator* authenticator, const Clock* clock,
             const CredentialSettingsStore* settings, IssuedCredentialStore* issued,
             EmulatorStats* stats)
      : authenticator_(authenticator),
        clock_(clock),
        settings_(settings),
        issued_(issued),
        stats_(stats) {}

  // REQUIRES: the request's path is "/" and it names Version 2015-04-01. `action` is the
  // action it names (PeekAction).
  StsResult Handle(const RpcHttpRequest& request, const std::string& action,
                   const std::string& request_id);

 private:
  // Issues a triple living `duration` for checked `params` and renders the answer.
  StsResult Issue(const std::map<std::string, std::string>& params, absl::Duration duration,
                  const CredentialSettings& settings, bool oidc, bool json,
                  const std::string& action, const std::string& request_id);

  Authenticator* const authenticator_;
  const Clock* const clock_;
  const CredentialSettingsStore* const settings_;
  IssuedCredentialStore* const issued_;
  EmulatorStats* const stats_;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_STS_SERVICE_H_
