// RpcService: one RPC request in, one HTTP reply out — path check, product dispatch (Version
// 2015-04-01 goes to the fake STS, sts_service.h; anything else is the IoT API),
// authentication, action dispatch, the account's quota (quota.h), business rules, rendering.
// Independent of the HTTP library (EmulatorServer adapts httplib to it).
//
// IoT actions: CreateOTAVerifyJob, QueryOTAFirmware, ListOTAJobByFirmware, QueryOTAJob,
// ListOTATaskByJob, CancelOTATaskByJob (protocol.md §6, §7).
//
// Thread-safe. Everything passed in must outlive the service.
#ifndef OTAVERIFY_EMULATOR_RPC_SERVICE_H_
#define OTAVERIFY_EMULATOR_RPC_SERVICE_H_

#include <optional>
#include <string>

#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/emulator_state.h"
#include "emulator/id_generator.h"
#include "emulator/issued_credentials.h"
#include "emulator/paging.h"
#include "emulator/quota.h"
#include "emulator/response.h"
#include "emulator/stats.h"
#include "emulator/sts_service.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {

struct RpcHttpReply {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string request_id;
  // For the stats: the action named by the request (may be empty) and "success" or the
  // error Code.
  std::string action;
  std::string outcome;
  bool sts = false;  // answered by the fake STS
};

class RpcService {
 public:
  // `issued`: the STS credentials the IoT API accepts besides `key`, and where STS puts the
  // ones it issues. `quota` rations the IoT actions. `stats` gets credentials_issued and the
  // quota's accepted / throttled counts (the server counts requests and outcomes). `page_cap`
  // caps the List actions' pages.
  RpcService(AccessKey key, const Clock* clock, EmulatorState* state, IdGenerator* ids,
             const CredentialSettingsStore* settings, IssuedCredentialStore* issued,
             QuotaLimiter* quota, EmulatorStats* stats, const PageSizeCap* page_cap)
      : authenticator_(std::move(key), clock, issued),
        clock_(clock),
        state_(state),
        ids_(ids),
        quota_(quota),
        stats_(stats),
        page_cap_(page_cap),
        sts_(&authenticator_, clock, settings, issued, stats) {}

  RpcHttpReply Handle(const RpcHttpRequest& request);

  // Forgets seen nonces (the state is reset by its owner).
  void Reset() { authenticator_.Reset(); }

 private:
  // The actions: the success body's fields, or the error. REQUIRES: authenticated, admitted.
  std::optional<ApiError> CreateVerifyJob(const AuthenticatedCall& call, absl::Time now,
                                          Doc* fields);
  std::optional<ApiError> QueryFirmware(const AuthenticatedCall& call, absl::Time now, Doc* fields);
  std::optional<ApiError> ListJobsByFirmware(const AuthenticatedCall& call, absl::Time now,
                                             Doc* fields);
  std::optional<ApiError> QueryJob(const AuthenticatedCall& call, absl::Time now, Doc* fields);
  std::optional<ApiError> ListTasksByJob(const AuthenticatedCall& call, absl::Time now,
                                         Doc* fields);
  std::optional<ApiError> CancelTasksByJob(const AuthenticatedCall& call, absl::Time now,
                                           Doc* fields);

  Authenticator authenticator_;
  const Clock* const clock_;
  EmulatorState* const state_;
  IdGenerator* const ids_;
  QuotaLimiter* const quota_;
  EmulatorStats* const stats_;
  const PageSizeCap* const page_cap_;
  StsService sts_;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_RPC_SERVICE_H_
