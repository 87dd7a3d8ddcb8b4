// Random identifiers in the service's shapes: RequestIds ("E4EA5B8A-0A9C-4E2B-...", upper-case
// UUID-like), JobIds (26 alphanumerics), and the random strings that make up issued STS
// credentials and IMDS tokens.
//
// Thread-safe: the generator is guarded by a mutex.
#ifndef OTAVERIFY_EMULATOR_ID_GENERATOR_H_
#define OTAVERIFY_EMULATOR_ID_GENERATOR_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace otaverify {
namespace emulator {

class IdGenerator {
 public:
  std::string RequestId();
  std::string JobId();
  // `length` characters drawn uniformly from `alphabet`. REQUIRES: !alphabet.empty().
  std::string RandomString(absl::string_view alphabet, size_t length);

 private:
  absl::Mutex mu_;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_ID_GENERATOR_H_
