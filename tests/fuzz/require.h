// Require: how a fuzz target states a property beyond "no crash". A violated property stops the
// run with a message, through abort, which libFuzzer records as a crash with its input.
#ifndef OTAVERIFY_TESTS_FUZZ_REQUIRE_H_
#define OTAVERIFY_TESTS_FUZZ_REQUIRE_H_

#include <cstdio>
#include <cstdlib>

namespace otaverify {

inline void Require(bool condition, const char* property) {
  if (condition) return;
  std::fprintf(stderr, "property violated: %s\n", property);
  std::abort();
}

}  // namespace otaverify

#endif  // OTAVERIFY_TESTS_FUZZ_REQUIRE_H_
