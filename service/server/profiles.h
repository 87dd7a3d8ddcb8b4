// Profiles: the Alibaba Cloud accounts one gateway acts for, read from the "profiles" object of
// the JSON config file, each with its own credentials source, region or endpoint and default
// IoT instance. A request's `account` field picks one by name; "default" serves requests that
// name none.
//
//   "profiles": {
//     "default":  {"credentials": "environment"},
//     "fleet-eu": {"region": "eu-central-1", "iot_instance_id": "iot-...",
//                  "credentials": "ecs_ram_role", "role_name": "OtaVerifyRole"},
//     "fleet-cn": {"credentials": "oidc_role_arn", "role_arn": "acs:ram::...",
//                  "oidc_provider_arn": "acs:ram::...", "oidc_token_file_path": "/var/..."},
//     "team-b":   {"credentials": "access_key_file", "secret_dir": "/var/run/secrets/team-b"},
//     "team-c":   {"credentials": "profile_file", "file": "/etc/aliyun/credentials",
//                  "profile": "team-c"}
//   }
//
// `credentials` kinds: environment (credentials.md §5.2 order, chosen once), access_key_file
// (files of a mounted Secret, re-read every 30 s), ecs_ram_role and oidc_role_arn (with the
// official profile-file key names), profile_file (any profile of an official credentials
// file, ram_role_arn included). AccessKey secrets never go in this file. Without a "profiles"
// object, "default" is {"credentials": "environment"}.
//
// Pure parsing plus the factory; thread-compatible values.
#ifndef OTAVERIFY_SERVICE_SERVER_PROFILES_H_
#define OTAVERIFY_SERVICE_SERVER_PROFILES_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "service/credentials/credentials.h"
#include "service/credentials/source_deps.h"

namespace otaverify {

struct ProfileConfig {
  std::string name;
  std::string region;    // empty: the gateway's --region
  std::string endpoint;  // empty: from the region
  std::string iot_instance_id;
  std::string credentials = "environment";
  // The rest of the profile's keys, for the credentials source.
  std::map<std::string, std::string> settings;
};

// The profiles of a config file's "profiles" object (may be absent). INVALID_ARGUMENT naming
// the profile and key for anything malformed or unknown.
absl::StatusOr<std::vector<ProfileConfig>> ParseProfiles(const google::protobuf::Struct& config);

// The credentials source a profile describes.
absl::StatusOr<std::unique_ptr<CredentialsSource>> SourceForProfile(const ProfileConfig& profile,
                                                                    const SourceDeps& deps);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_SERVER_PROFILES_H_
