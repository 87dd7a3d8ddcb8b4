// aliyun-iot-emulator: a fake Alibaba Cloud IoT OTA OpenAPI endpoint (README.md).
//
// The composition root: flags in, one "listening" JSON line on stdout once bound, serve until
// SIGTERM or SIGINT, stop, exit 0. Start-up errors go to stderr and exit 1.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "emulator/credential_settings.h"
#include "emulator/device_simulation.h"
#include "emulator/emulator_server.h"
#include "emulator/paging.h"
#include "emulator/quota.h"
#include "emulator/response.h"
#include "emulator/seed.h"
#include "service/common/clock.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:18080", "host:port to serve on; port 0 picks one");
ABSL_FLAG(std::string, access_key_id, "emulator-access-key-id", "accepted AccessKeyId");
ABSL_FLAG(std::string, access_key_secret, "emulator-access-key-secret",
          "secret of --access_key_id");
ABSL_FLAG(std::string, security_token, "",
          "if set, requests must carry exactly this STS SecurityToken");
ABSL_FLAG(std::string, seed, "", "seed JSON file (README.md); empty: the built-in demo seed");
ABSL_FLAG(absl::Duration, clock_skew, absl::ZeroDuration(),
          "added to the emulator's clock, to test timestamp skew");
ABSL_FLAG(int, threads, 96, "worker threads = concurrent keep-alive connections served");
ABSL_FLAG(absl::Duration, keep_alive_timeout, absl::Seconds(10),
          "idle keep-alive connections are closed after this long");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate (chain): serve HTTPS; needs --tls_key");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
// IMDS and STS (README.md, "Credentials: IMDS and STS"); POST /_emulator/credentials changes
// them at run time, /_emulator/reset restores these.
ABSL_FLAG(std::string, imds_hardened_mode, "optional",
          "IMDS token mode: off (ignored), optional (checked if sent), required");
ABSL_FLAG(std::string, imds_role_name, "EmulatorEcsRole", "the instance's RAM role name");
ABSL_FLAG(int64_t, imds_credential_lifetime_seconds, 6 * 3600,
          "lifetime of the STS credentials IMDS hands out");
ABSL_FLAG(int64_t, imds_rotation_lead_seconds, 3600,
          "IMDS serves the same credentials until this long before they expire");
ABSL_FLAG(int64_t, sts_duration_seconds, 0,
          "if > 0, every STS credential lives exactly this long whatever DurationSeconds says");
ABSL_FLAG(int64_t, sts_min_duration_seconds, 900, "smallest DurationSeconds STS accepts");
ABSL_FLAG(int64_t, sts_max_duration_seconds, 3600, "largest DurationSeconds STS accepts");
ABSL_FLAG(std::string, oidc_token, "emulator-oidc-token",
          "the OIDC token AssumeRoleWithOIDC accepts");
ABSL_FLAG(std::string, role_arn, "acs:ram::1234567890123456:role/emulator-role",
          "the RoleArn STS lets callers assume");
ABSL_FLAG(std::string, oidc_provider_arn,
          "acs:ram::1234567890123456:oidc-provider/emulator-oidc-provider",
          "the OIDCProviderArn AssumeRoleWithOIDC accepts");
// Upstream quotas (README.md, "Quotas"); POST /_emulator/quota changes them at run time,
// /_emulator/reset restores these.
ABSL_FLAG(std::string, quota, "off",
          "on: enforce the IoT API's per-action quotas (Throttling.User over quota); off: never");
ABSL_FLAG(
    std::string, quotas, "",
    "per-action rates overriding the defaults, e.g. CreateOTAVerifyJob:10,QueryOTAFirmware:20");
// Device simulation and paging (README.md, "Device simulation", "Paging").
ABSL_FLAG(absl::Duration, device_update_time, absl::Seconds(4),
          "how long a simulated device takes from the verify job's creation to SUCCEEDED");
ABSL_FLAG(absl::Duration, emulated_minute, absl::Seconds(1),
          "how long one minute of a job's TimeoutInMinutes lasts");
ABSL_FLAG(int, max_page_size, 100,
          "largest page the List actions return, whatever PageSize asks for (1..1000); POST "
          "/_emulator/paging changes it at run time");

namespace {

void Log(std::FILE* out, absl::string_view level, absl::string_view message,
         absl::string_view key = "", absl::string_view value = "", absl::string_view key2 = "",
         absl::string_view value2 = "") {
  otaverify::emulator::Doc doc;
  doc.Str("level", level).Str("message", message);
  if (!key.empty()) doc.Str(key, value);
  if (!key2.empty()) doc.Str(key2, value2);
  std::fprintf(out, "%s\n", doc.ToJson().c_str());
  std::fflush(out);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace emu = otaverify::emulator;

  // Block the stop signals before any thread starts so every thread inherits the mask and
  // sigwait() below is the only receiver. A client vanishing mid-response must not kill us.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  emu::EmulatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.access_key = {absl::GetFlag(FLAGS_access_key_id), absl::GetFlag(FLAGS_access_key_secret),
                        absl::GetFlag(FLAGS_security_token)};
  if (options.access_key.id.empty() || options.access_key.secret.empty()) {
    Log(stderr, "error", "--access_key_id and --access_key_secret must not be empty");
    return 1;
  }
  options.worker_threads = absl::GetFlag(FLAGS_threads);
  if (options.worker_threads < 1) {
    Log(stderr, "error", "--threads must be at least 1");
    return 1;
  }
  options.keep_alive_timeout = absl::GetFlag(FLAGS_keep_alive_timeout);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    Log(stderr, "error", "--tls_cert and --tls_key go together");
    return 1;
  }
  absl::StatusOr<emu::ImdsHardenedMode> mode =
      emu::ParseImdsHardenedMode(absl::GetFlag(FLAGS_imds_hardened_mode));
  if (!mode.ok()) {
    Log(stderr, "error", "bad --imds_hardened_mode", "error", mode.status().ToString());
    return 1;
  }
  emu::CredentialSettings& credentials = options.credentials;
  credentials.imds_hardened_mode = *mode;
  credentials.imds_role_name = absl::GetFlag(FLAGS_imds_role_name);
  credentials.imds_credential_lifetime =
      absl::Seconds(absl::GetFlag(FLAGS_imds_credential_lifetime_seconds));
  credentials.imds_rotation_lead = absl::Seconds(absl::GetFlag(FLAGS_imds_rotation_lead_seconds));
  credentials.sts_duration_override = absl::Seconds(absl::GetFlag(FLAGS_sts_duration_seconds));
  credentials.sts_min_duration = absl::Seconds(absl::GetFlag(FLAGS_sts_min_duration_seconds));
  credentials.sts_max_duration = absl::Seconds(absl::GetFlag(FLAGS_sts_max_duration_seconds));
  credentials.oidc_token = absl::GetFlag(FLAGS_oidc_token);
  credentials.role_arn = absl::GetFlag(FLAGS_role_arn);
  credentials.oidc_provider_arn = absl::GetFlag(FLAGS_oidc_provider_arn);
  if (absl::Status valid = emu::ValidateCredentialSettings(credentials); !valid.ok()) {
    Log(stderr, "error", "bad credential flags", "error", valid.ToString());
    return 1;
  }
  const std::string quota_mode = absl::GetFlag(FLAGS_quota);
  if (quota_mode != "on" && quota_mode != "off") {
    Log(stderr, "error", "--quota must be on or off");
    return 1;
  }
  options.quota.enabled = quota_mode == "on";
  if (absl::Status valid = emu::ApplyQuotaRatesFlag(absl::GetFlag(FLAGS_quotas), &options.quota);
      !valid.ok()) {
    Log(stderr, "error", "bad --quotas", "error", valid.ToString());
    return 1;
  }
  options.simulation.device_update_time = absl::GetFlag(FLAGS_device_update_time);
  options.simulation.emulated_minute = absl::GetFlag(FLAGS_emulated_minute);
  if (absl::Status valid = emu::ValidateSimulationSettings(options.simulation); !valid.ok()) {
    Log(stderr, "error", "bad --device_update_time or --emulated_minute", "error",
        valid.ToString());
    return 1;
  }
  options.max_page_size = absl::GetFlag(FLAGS_max_page_size);
  if (absl::Status valid = emu::ValidateMaxPageSize(options.max_page_size); !valid.ok()) {
    Log(stderr, "error", "bad --max_page_size", "error", valid.ToString());
    return 1;
  }
  const std::string seed_path = absl::GetFlag(FLAGS_seed);
  if (seed_path.empty()) {
    options.seed = emu::DemoSeed();
  } else {
    absl::StatusOr<emu::Seed> seed = emu::LoadSeedFile(seed_path);
    if (!seed.ok()) {
      Log(stderr, "error", "cannot load seed", "error", seed.status().ToString());
      return 1;
    }
    options.seed = *std::move(seed);
  }

  otaverify::SystemClock clock(absl::GetFlag(FLAGS_clock_skew));
  emu::EmulatorServer server(std::move(options), &clock);
  if (absl::Status status = server.Start(); !status.ok()) {
    Log(stderr, "error", "cannot start", "error", status.ToString());
    return 1;
  }
  Log(stdout, "info", "listening", "address", server.address(), "scheme", server.scheme());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  Log(stderr, "info", "stopping", "signal", absl::StrCat(signal_number));
  server.Stop();
  return 0;
}
