// The emulator's initial world: instances, products, their devices and firmware packages.
// Format: README.md; schema: seed.proto.
//
// Loading validates the seed (unique keys, known instances, valid statuses) so the emulator
// fails fast at start-up instead of answering nonsense. Pure functions; thread-safe.
#ifndef OTAVERIFY_EMULATOR_SEED_H_
#define OTAVERIFY_EMULATOR_SEED_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "emulator/seed.pb.h"

namespace otaverify {
namespace emulator {

// Parses and validates seed JSON. INVALID_ARGUMENT names what is wrong.
absl::StatusOr<Seed> ParseSeedJson(absl::string_view json);

// Reads and parses a seed file; NOT_FOUND if it cannot be read.
absl::StatusOr<Seed> LoadSeedFile(const std::string& path);

// The built-in demo world; emulator/seed/demo.json holds the same content.
const std::string& DemoSeedJson();
Seed DemoSeed();

// INVALID_ARGUMENT if the seed is inconsistent.
absl::Status ValidateSeed(const Seed& seed);

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_SEED_H_
