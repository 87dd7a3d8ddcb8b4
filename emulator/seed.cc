#include "emulator/seed.h"

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/device_simulation.h"
#include "google/protobuf/util/json_util.h"

namespace otaverify {
namespace emulator {
namespace {

// Kept textually identical to seed/demo.json (a unit test compares the two).
constexpr char kDemoSeedJson[] = R"json({
  "instances": ["iot-demo-instance"],
  "products": [
    {
      "product_key": "a1DemoProduct",
      "iot_instance_id": "",
      "devices": [
        "demo-device-1", "demo-device-2", "demo-device-3", "demo-device-4", "demo-device-5",
        "demo-device-6", "demo-device-7", "demo-device-8", "demo-device-9", "demo-device-10",
        "demo-device-fail", "demo-device-offline", "demo-device-timeout"
      ],
      "device_behaviors": {
        "demo-device-fail": {"behavior": "fail", "percent": 40,
                             "task_desc": "checksum mismatch after download"},
        "demo-device-offline": {"behavior": "offline"},
        "demo-device-timeout": {"behavior": "timeout", "percent": 30}
      },
      "firmwares": [
        {"firmware_id": "demo-firmware-1", "status": 0},
        {"firmware_id": "demo-firmware-2", "status": 0},
        {"firmware_id": "demo-firmware-3", "status": 0},
        {"firmware_id": "demo-firmware-4", "status": 0},
        {"firmware_id": "demo-firmware-5", "status": 0},
        {"firmware_id": "demo-firmware-6", "status": 0},
        {"firmware_id": "demo-firmware-7", "status": 0},
        {"firmware_id": "demo-firmware-8", "status": 0},
        {"firmware_id": "demo-firmware-9", "status": 0},
        {"firmware_id": "demo-firmware-10", "status": 0},
        {"firmware_id": "demo-firmware-11", "status": 0},
        {"firmware_id": "demo-firmware-12", "status": 0},
        {"firmware_id": "demo-firmware-13", "status": 0},
        {"firmware_id": "demo-firmware-14", "status": 0},
        {"firmware_id": "demo-firmware-15", "status": 0},
        {"firmware_id": "demo-firmware-16", "status": 0},
        {"firmware_id": "demo-firmware-17", "status": 0},
        {"firmware_id": "demo-firmware-18", "status": 0},
        {"firmware_id": "demo-firmware-19", "status": 0},
        {"firmware_id": "demo-firmware-20", "status": 0},
        {"firmware_id": "demo-firmware-verified", "status": 1}
      ]
    },
    {
      "product_key": "a1EntProduct",
      "iot_instance_id": "iot-demo-instance",
      "devices": ["ent-device-1", "ent-device-2", "ent-device-3"],
      "firmwares": [
        {"firmware_id": "ent-firmware-1", "status": 0}
      ]
    }
  ]
}
)json";

}  // namespace

absl::Status ValidateSeed(const Seed& seed) {
  std::set<std::string> instances;
  for (const std::string& instance : seed.instances()) {
    if (instance.empty()) return absl::InvalidArgumentError("seed: empty instance id");
    if (!instances.insert(instance).second) {
      return absl::InvalidArgumentError(absl::StrCat("seed: duplicate instance ", instance));
    }
  }
  std::set<std::string> products;
  std::set<std::string> firmwares;
  for (const SeedProduct& product : seed.products()) {
    const std::string& key = product.product_key();
    if (key.empty()) return absl::InvalidArgumentError("seed: product without product_key");
    if (!products.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrCat("seed: duplicate product ", key));
    }
    if (!product.iot_instance_id().empty() && instances.count(product.iot_instance_id()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("seed: product ", key, " names instance ",
                                                     product.iot_instance_id(),
                                                     " missing from \"instances\""));
    }
    std::set<std::string> devices;
    for (const std::string& device : product.devices()) {
      if (device.empty() || !devices.insert(device).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "seed: product ", key, " has an empty or duplicate device \"", device, "\""));
      }
    }
    for (const auto& [device, behavior] : product.device_behaviors()) {
      if (devices.count(device) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("seed: product ", key,
                                                       " has a behavior for device \"", device,
                                                       "\", which is not in its \"devices\""));
      }
      if (absl::StatusOr<DeviceBehavior> parsed = ParseDeviceBehavior(behavior); !parsed.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("seed: product ", key, " device ", device,
                                                       ": ", parsed.status().message()));
      }
    }
    for (const SeedFirmware& firmware : product.firmwares()) {
      // Unique across products: QueryOTAFirmware and ListOTAJobByFirmware name a package by
      // FirmwareId alone, as the service's ids are global.
      if (firmware.firmware_id().empty() || !firmwares.insert(firmware.firmware_id()).second) {
        return absl::InvalidArgumentError(absl::StrCat("seed: product ", key,
                                                       " has an empty or duplicate firmware \"",
                                                       firmware.firmware_id(), "\""));
      }
      if (firmware.status() < -1 || firmware.status() > 3) {
        return absl::InvalidArgumentError(absl::StrCat("seed: firmware ", firmware.firmware_id(),
                                                       " has status ", firmware.status(),
                                                       ", want -1..3 (protocol.md §7)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Seed> ParseSeedJson(absl::string_view json) {
  Seed seed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo in a seed file must not be silently dropped
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &seed, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("seed: ", status.ToString()));
  }
  if (absl::Status valid = ValidateSeed(seed); !valid.ok()) return valid;
  return seed;
}

absl::StatusOr<Seed> LoadSeedFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("seed: cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<Seed> seed = ParseSeedJson(buffer.str());
  if (!seed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", seed.status().message()));
  }
  return seed;
}

const std::string& DemoSeedJson() {
  static const std::string* const json = new std::string(kDemoSeedJson);
  return *json;
}

Seed DemoSeed() {
  absl::StatusOr<Seed> seed = ParseSeedJson(DemoSeedJson());
  // The literal above is covered by a unit test; failing here is a programming error.
  if (!seed.ok()) return Seed();
  return *std::move(seed);
}

}  // namespace emulator
}  // namespace otaverify
