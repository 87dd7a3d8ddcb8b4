// RpcService: one RPC request in, one HTTP reply out — path check, authentication, action
// dispatch, business rules, rendering. Independent of the HTTP library (EmulatorServer adapts
// httplib to it).
//
// Thread-safe. The clock, state and id generator must outlive the service.
#ifndef OTAVERIFY_EMULATOR_RPC_SERVICE_H_
#define OTAVERIFY_EMULATOR_RPC_SERVICE_H_

#include <string>

#include "emulator/authenticator.h"
#include "service/common/clock.h"
#include "emulator/emulator_state.h"
#include "emulator/id_generator.h"

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
};

class RpcService {
 public:
  RpcService(AccessKey key, const Clock* clock, EmulatorState* state, IdGenerator* ids)
      : authenticator_(std::move(key), clock), clock_(clock), state_(state), ids_(ids) {}

  RpcHttpReply Handle(const RpcHttpRequest& request);

  // Forgets seen nonces (the state is reset by its owner).
  void Reset() { authenticator_.Reset(); }

 private:
  Authenticator authenticator_;
  const Clock* const clock_;
  EmulatorState* const state_;
  IdGenerator* const ids_;
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_RPC_SERVICE_H_
