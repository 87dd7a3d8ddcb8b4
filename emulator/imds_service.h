// ImdsService: a fake of the ECS instance metadata service's RAM-role paths
// (credentials.md §2): the hardened-mode token (PUT /latest/api/token), the role name and the
// role's STS credentials, which rotate like the real platform's — the same triple until
// `imds_rotation_lead` before it expires, then a new one. Issued credentials go to the shared
// IssuedCredentialStore, so the emulator's IoT API accepts them.
//
// Independent of the HTTP library; EmulatorServer routes /latest/* here and applies the
// armed imds_* faults (README.md). Thread-safe. Everything passed in must outlive the service.
#ifndef OTAVERIFY_EMULATOR_IMDS_SERVICE_H_
#define OTAVERIFY_EMULATOR_IMDS_SERVICE_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "emulator/authenticator.h"
#include "emulator/credential_settings.h"
#include "emulator/id_generator.h"
#include "emulator/issued_credentials.h"
#include "emulator/stats.h"
#include "service/common/clock.h"

namespace otaverify {
namespace emulator {

inline constexpr char kImdsTokenPath[] = "/latest/api/token";
inline constexpr char kImdsCredentialsPath[] = "/latest/meta-data/ram/security-credentials/";
inline constexpr char kImdsTokenTtlHeader[] = "x-aliyun-ecs-metadata-token-ttl-seconds";
inline constexpr char kImdsTokenHeader[] = "x-aliyun-ecs-metadata-token";
inline constexpr int64_t kImdsMaxTokenTtlSeconds = 21600;

// What an IMDS path asks for; its name keys the imds_requests stats and the imds_* faults'
// action filter.
enum class ImdsPathKind { kToken, kRole, kCredentials, kOther };
absl::string_view ImdsPathKindName(ImdsPathKind kind);  // "token", "role", ...
// REQUIRES: `path` has no query string.
ImdsPathKind ClassifyImdsPath(absl::string_view path);

// How the credentials answer is bent by an armed fault (README.md, "IMDS faults").
enum class ImdsAnswer {
  kNormal,
  kCodeNotSuccess,    // the normal answer with "Code":"Failure"
  kExpired,           // a fresh triple whose Expiration is a minute in the past
  kRepeat,            // the current triple again, even when it is due for rotation
  kFractionalExpiry,  // Expiration with milliseconds, "...:00.123Z" (0.877 s early)
};

struct ImdsReply {
  int status = 200;
  std::string content_type;
  std::string body;
};

class ImdsService {
 public:
  // Tokens remembered at once; past it the one that expires first is forgotten.
  static constexpr size_t kMaxTokens = 4096;

  ImdsService(const Clock* clock, const CredentialSettingsStore* settings,
              IssuedCredentialStore* issued, IdGenerator* ids, EmulatorStats* stats)
      : clock_(clock), settings_(settings), issued_(issued), ids_(ids), stats_(stats) {}

  ImdsService(const ImdsService&) = delete;
  ImdsService& operator=(const ImdsService&) = delete;

  // `request.target` is the path (with any query); `answer` only affects credentials answers.
  ImdsReply Handle(const RpcHttpRequest& request, ImdsAnswer answer = ImdsAnswer::kNormal);

  // Forgets tokens and the current credentials.
  void Reset();

 private:
  // The current triple of the instance's role, and what it was issued under.
  struct Current {
    IssuedCredential credential;
    std::string role;
    absl::Duration lifetime;
  };

  ImdsReply IssueToken(const RpcHttpRequest& request, absl::Time now);
  // Empty if the request may proceed, else the 401 to answer.
  std::optional<ImdsReply> CheckToken(const RpcHttpRequest& request,
                                      const CredentialSettings& settings, absl::Time now);
  ImdsReply Credentials(const CredentialSettings& settings, ImdsAnswer answer, absl::Time now);

  const Clock* const clock_;
  const CredentialSettingsStore* const settings_;
  IssuedCredentialStore* const issued_;
  IdGenerator* const ids_;
  EmulatorStats* const stats_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> tokens_ ABSL_GUARDED_BY(mu_);  // -> expiry
  std::optional<Current> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_IMDS_SERVICE_H_
