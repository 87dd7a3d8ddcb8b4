// RpcService: one RPC request in, one HTTP reply out — path check, product dispatch (Version
// 2015-04-01 goes to the fake STS, sts_service.h; anything else is the IoT API),
// authentication, action dispatch, business rules, rendering. Independent of the HTTP library
// (EmulatorServer adapts httplib to it).
//
// Thread-safe. The clock, state and id generator must outlive the service.
#ifndef OTAVERIFY_EMULATOR_RPC_SERVICE_H_
#define OTAVERIFY_EMULATOR_RPC_SERVICE_H_

#include <string>

#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/emulator_state.h"
#include "emulator/id_generator.h"
#include "emulator/issued_credentials.h"
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
  // ones it issues. `stats` gets credentials_issued.
  RpcService(AccessKey key, const Clock* clock, EmulatorState* state, IdGenerator* ids,
             const CredentialSettingsStore* settings, IssuedCredentialStore* issued,
             EmulatorStats* stats)
      : authenticator_(std::move(key), clock, issued),
        clock_(clock),
        state_(state),
        ids_(ids),
        sts_(&authenticator_, clock, settings, issued, stats) {}

  RpcHttpReply Handle(const RpcHttpRequest& request);

  // Forgets seen nonces (the state is reset by its owner).
  void Reset() { authenticator_.Reset(); }

 private:
  Authenticator authenticator_;
  const Clock* const clock_;
  EmulatorState* const state_;
  IdGenerator* const ids_;
  StsService sts_;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_RPC_SERVICE_H_
