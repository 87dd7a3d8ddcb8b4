// otaverify-gateway: the composition root. Reads flags (and the optional JSON config file),
// builds the transport, credentials and service, serves gRPC with health checking and
// reflection, and shuts down gracefully on SIGTERM / SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "service/aliyun/rpc_request.h"
#include "service/aliyun/verify_workflow.h"
#include "service/common/clock.h"
#include "service/common/log.h"
#include "service/credentials/credentials.h"
#include "service/credentials/credentials_cache.h"
#include "service/credentials/environment.h"
#include "service/credentials/source_deps.h"
#include "service/resilience/scheduler.h"
#include "service/server/config.h"
#include "service/server/metrics.h"
#include "service/server/ota_verify_service.h"
#include "service/server/profiles.h"
#include "service/server/upstream_caller.h"
#include "service/transport/curl_transport.h"

ABSL_FLAG(std::string, config, "", "Optional JSON file of flag values (command line wins)");
ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address host:port (port 0 = any)");
ABSL_FLAG(std::string, region, "cn-shanghai",
          "Alibaba Cloud region: endpoint https://iot.<region>.aliyuncs.com");
ABSL_FLAG(std::string, endpoint, "", "Full upstream base URL, overrides --region");
ABSL_FLAG(bool, allow_insecure_endpoint, false, "Allow an http:// endpoint (tests, emulator)");
ABSL_FLAG(std::string, signature_version, "v3",
          "Upstream signature: v3 (ACS3-HMAC-SHA256) or v1 (HMAC-SHA1)");
ABSL_FLAG(absl::Duration, max_attempt_time, absl::Seconds(15),
          "Cap of one upstream attempt, and the budget of calls without a deadline");
ABSL_FLAG(int, upstream_max_connections, 8, "Upper bound of connections to the upstream host");
ABSL_FLAG(absl::Duration, upstream_connect_timeout, absl::Seconds(5),
          "Time allowed for TCP connect plus TLS handshake");
ABSL_FLAG(absl::Duration, upstream_max_idle_age, absl::Seconds(30),
          "A kept-alive connection idle longer than this is not reused (keep below the "
          "upstream's idle timeout)");
ABSL_FLAG(absl::Duration, upstream_max_lifetime, absl::Seconds(300),
          "A connection older than this is not reused, so DNS and load-balancer changes apply");
ABSL_FLAG(int, max_in_flight, 256,
          "Calls waiting on the upstream at once; beyond it calls fail fast with UNAVAILABLE");
ABSL_FLAG(int, max_watch_streams, 4096,
          "WatchVerifyJob streams open at once; beyond it new watches fail with UNAVAILABLE");
ABSL_FLAG(absl::Duration, watch_poll_interval, absl::Seconds(2),
          "How often a watched verify job is read upstream (QueryOTAJob + ListOTATaskByJob), "
          "once for all its watchers");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9090",
          "Address of the Prometheus /metrics endpoint (host:port, port 0 = any); \"off\" "
          "disables it");
ABSL_FLAG(std::string, ca_file, "", "PEM file of extra CAs trusted for the upstream");
ABSL_FLAG(absl::Duration, shutdown_delay, absl::ZeroDuration(),
          "After SIGTERM, how long readiness reports NOT_SERVING while new calls are still "
          "served, so load balancers and clients move away before calls are refused (0 on "
          "Kubernetes, where the preStop sleep does this)");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "Clients are asked to reconnect (GOAWAY) after this long, so long-lived channels "
          "spread over replicas added since");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Hours(1),
          "How long calls on an aged connection may still run (watch streams included)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "How long in-flight calls may finish after SIGTERM before they are cancelled");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(std::string, imds_endpoint, "",
          "Base URL of the ECS metadata service (else ALIBABA_CLOUD_IMDS_ENDPOINT, else "
          "http://100.100.100.200)");
ABSL_FLAG(std::string, sts_endpoint, "",
          "STS endpoint, a host or a URL (else ALIBABA_CLOUD_STS_ENDPOINT, else by "
          "ALIBABA_CLOUD_STS_REGION, else sts.aliyuncs.com); http:// only with "
          "--allow_insecure_endpoint");
ABSL_FLAG(absl::Duration, credentials_startup_timeout, absl::Seconds(10),
          "Start-up fails when a profile has no credentials within this time");
ABSL_FLAG(std::string, upstream_quotas,
          "CreateOTAVerifyJob=10,QueryOTAFirmware=20,QueryOTAJob=10,ListOTAJobByFirmware=10,"
          "ListOTATaskByJob=10,CancelOTATaskByJob=5",
          "Calls per second each Alibaba Cloud account allows per action (protocol.md §1); "
          "\"off\" disables admission");
ABSL_FLAG(double, quota_headroom, 0.9,
          "Fraction of each quota the gateway paces itself to (arrival jitter, replica shares)");
ABSL_FLAG(int, replicas, 1,
          "Gateway replicas sharing the accounts: each takes 1/replicas of every quota");
ABSL_FLAG(int, max_attempts, 4, "Upstream attempts per call at most, retries included");
ABSL_FLAG(int, breaker_failures, 5,
          "Consecutive upstream failures that open the circuit breaker of an endpoint");
ABSL_FLAG(absl::Duration, breaker_open, absl::Seconds(5),
          "How long an opened breaker holds calls back before a probe");
ABSL_FLAG(absl::Duration, credentials_backoff_cap, absl::Seconds(60),
          "Longest wait between retries of a failing credentials refresh (full jitter below)");

namespace otaverify {
namespace {

// Exit status after a second SIGTERM / SIGINT cut the drain short (a clean drain exits 0).
constexpr int kForcedExitStatus = 2;

int Fail(absl::string_view message) {
  Log(LogLevel::kError, absl::StrCat("start-up failed: ", message));
  return 1;
}

// A duration as a gRPC channel argument (milliseconds in an int).
int ClampedMillis(absl::Duration d) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(d), std::numeric_limits<int>::max()));
}

// The series read at scrape time from the components that own the state.
void AddStateMetrics(Metrics& metrics, const OtaVerifyService& service,
                     const UpstreamCaller& upstream,
                     const std::vector<std::unique_ptr<CredentialsCache>>& caches,
                     const CurlTransport& transport, const Clock& clock) {
  using Sample = Metrics::Sample;
  using Kind = Metrics::Kind;
  metrics.AddSampler("otaverify_grpc_server_in_flight", "Unary calls admitted and not yet answered",
                     Kind::kGauge, [&service] {
                       return std::vector<Sample>{{{}, static_cast<double>(service.InFlight())}};
                     });
  metrics.AddSampler(
      "otaverify_watch_streams", "WatchVerifyJob streams open", Kind::kGauge, [&service] {
        return std::vector<Sample>{{{}, static_cast<double>(service.WatchStreams())}};
      });
  metrics.AddSampler(
      "otaverify_watch_pollers",
      "Verify jobs being polled (one per job, shared "
      "by its watchers)",
      Kind::kGauge, [&service] {
        return std::vector<Sample>{{{}, static_cast<double>(service.WatchStats().pollers)}};
      });
  metrics.AddSampler(
      "otaverify_watch_polls_total", "Polls of watched jobs, by outcome", Kind::kCounter,
      [&service] {
        const JobWatchHub::Stats stats = service.WatchStats();
        return std::vector<Sample>{
            {{{"kind", "started"}}, static_cast<double>(stats.polls)},
            {{{"kind", "job_read"}}, static_cast<double>(stats.header_reads)},
            {{{"kind", "skipped_for_quota"}}, static_cast<double>(stats.polls_skipped)}};
      });
  metrics.AddSampler("otaverify_upstream_circuit_breaker_open",
                     "1 while the endpoint's circuit breaker holds calls back", Kind::kGauge,
                     [&upstream] {
                       std::vector<Sample> samples;
                       for (const auto& [endpoint, open] : upstream.BreakersOpen()) {
                         samples.push_back({{{"endpoint", endpoint}}, open ? 1.0 : 0.0});
                       }
                       return samples;
                     });
  metrics.AddSampler("otaverify_http_connections_opened_total",
                     "Connections the HTTP transport opened (upstream, STS and metadata)",
                     Kind::kCounter, [&transport] {
                       return std::vector<Sample>{
                           {{}, static_cast<double>(transport.GetStats().connections_opened)}};
                     });
  static constexpr const char* kReasons[] = {"cold", "advisory", "mandatory", "invalidated",
                                             "recheck"};
  static constexpr const char* kResults[] = {"new", "same", "failed"};
  metrics.AddSampler(
      "otaverify_credentials_seconds_to_expiry",
      "Seconds until the profile's current credentials expire (+Inf: they never do; negative: "
      "expired or none)",
      Kind::kGauge, [&caches, &clock] {
        std::vector<Sample> samples;
        for (const auto& cache : caches) {
          const CredentialsCache::Stats stats = cache->GetStats();
          const double seconds = stats.expiration == absl::InfiniteFuture()
                                     ? std::numeric_limits<double>::infinity()
                                     : absl::ToDoubleSeconds(stats.expiration - clock.Now());
          samples.push_back({{{"profile", cache->profile()}}, seconds});
        }
        return samples;
      });
  metrics.AddSampler(
      "otaverify_credentials_refreshes_total", "Credential fetches by profile, reason and result",
      Kind::kCounter, [&caches] {
        std::vector<Sample> samples;
        for (const auto& cache : caches) {
          const CredentialsCache::Stats stats = cache->GetStats();
          for (int reason = 0; reason < 5; ++reason) {
            for (int result = 0; result < 3; ++result) {
              samples.push_back({{{"profile", cache->profile()},
                                  {"reason", kReasons[reason]},
                                  {"result", kResults[result]}},
                                 static_cast<double>(stats.fetches[reason][result])});
            }
          }
        }
        return samples;
      });
  // One gauge per profile, read from its cache's stats.
  auto per_profile = [&metrics, &caches](std::string name, std::string help,
                                         double (*value)(const CredentialsCache::Stats&)) {
    metrics.AddSampler(std::move(name), std::move(help), Kind::kGauge, [&caches, value] {
      std::vector<Sample> samples;
      for (const auto& cache : caches) {
        samples.push_back({{{"profile", cache->profile()}}, value(cache->GetStats())});
      }
      return samples;
    });
  };
  per_profile(
      "otaverify_credentials_consecutive_failures",
      "Failed credential fetches in a row, by profile",
      [](const CredentialsCache::Stats& s) { return static_cast<double>(s.consecutive_failures); });
  per_profile("otaverify_credentials_waiters",
              "Calls waiting for the profile's credential fetch in flight",
              [](const CredentialsCache::Stats& s) { return static_cast<double>(s.waiters); });
  per_profile(
      "otaverify_credentials_last_fetch_seconds",
      "How long the profile's last credential fetch took",
      [](const CredentialsCache::Stats& s) { return absl::ToDoubleSeconds(s.last_fetch_latency); });
}

// "Action=rate,..." → per-action calls per second, each divided by the replica count.
absl::StatusOr<absl::flat_hash_map<std::string, double>> ParseQuotas(const std::string& text,
                                                                     int replicas) {
  absl::flat_hash_map<std::string, double> quotas;
  if (replicas < 1) return absl::InvalidArgumentError("--replicas must be at least 1");
  if (text == "off") return quotas;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    double rate = 0;
    if (kv.first.empty() || !absl::SimpleAtod(kv.second, &rate) || rate <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--upstream_quotas: \"", item, "\" must be Action=calls_per_second, above zero"));
    }
    quotas[kv.first] = rate / replicas;
  }
  return quotas;
}

// The endpoint a profile's calls go to: its own, else its region's, else the gateway's.
absl::StatusOr<Endpoint> ProfileEndpoint(const ProfileConfig& profile) {
  std::string url = profile.endpoint;
  if (url.empty() && profile.region.empty()) url = absl::GetFlag(FLAGS_endpoint);
  if (url.empty()) {
    const std::string& region =
        profile.region.empty() ? absl::GetFlag(FLAGS_region) : profile.region;
    url = absl::StrCat("https://iot.", region, ".aliyuncs.com");
  }
  absl::StatusOr<Endpoint> endpoint = ParseEndpoint(url);
  if (!endpoint.ok()) return endpoint.status();
  if (!endpoint->secure && !absl::GetFlag(FLAGS_allow_insecure_endpoint)) {
    return absl::FailedPreconditionError(
        absl::StrCat("endpoint ", url,
                     " is plain http: credentials would cross the network unencrypted; pass "
                     "--allow_insecure_endpoint only for a local emulator"));
  }
  return endpoint;
}

// The process environment, with the metadata and STS endpoints the flags override.
Environment GatewayEnvironment() {
  return [base = ProcessEnvironment(), imds = absl::GetFlag(FLAGS_imds_endpoint),
          sts = absl::GetFlag(FLAGS_sts_endpoint)](absl::string_view name) {
    if (name == "ALIBABA_CLOUD_IMDS_ENDPOINT" && !imds.empty()) return imds;
    if (name == "ALIBABA_CLOUD_STS_ENDPOINT" && !sts.empty()) return sts;
    return base(name);
  };
}

// Waits for a profile's first credentials, so a gateway that cannot sign never turns ready.
absl::Status WaitForCredentials(CredentialsCache& cache, const Clock& clock,
                                absl::Duration timeout) {
  auto result = std::make_shared<absl::StatusOr<CredentialsSnapshot>>();
  auto done = std::make_shared<absl::Notification>();
  cache.Get(clock.Now(), [result, done](absl::StatusOr<CredentialsSnapshot> snapshot) {
    *result = std::move(snapshot);
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no credentials within ", absl::FormatDuration(timeout)));
  }
  if (!result->ok()) return result->status();
  Log(LogLevel::kInfo, "credentials ready",
      {{"profile", cache.profile()}, {"credentials", (**result)->Describe()}});
  return absl::OkStatus();
}

int Run(const absl::flat_hash_set<std::string>& command_line_flags) {
  google::protobuf::Struct config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::StatusOr<google::protobuf::Struct> loaded = LoadConfigFile(absl::GetFlag(FLAGS_config));
    if (!loaded.ok()) return Fail(loaded.status().message());
    config = *std::move(loaded);
    absl::Status applied =
        ApplyConfigFlags(config, absl::GetFlag(FLAGS_config), command_line_flags);
    if (!applied.ok()) return Fail(applied.message());
  }
  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Fail("--log_level must be debug, info, warning or error");
  }
  SetLogLevel(level);
  absl::StatusOr<SignatureVersion> signature_version =
      ParseSignatureVersion(absl::GetFlag(FLAGS_signature_version));
  if (!signature_version.ok()) return Fail(signature_version.status().message());
  absl::StatusOr<std::vector<ProfileConfig>> profile_configs = ParseProfiles(config);
  if (!profile_configs.ok()) return Fail(profile_configs.status().message());

  CurlTransport::Options transport_options;
  transport_options.max_host_connections = absl::GetFlag(FLAGS_upstream_max_connections);
  transport_options.ca_file = absl::GetFlag(FLAGS_ca_file);
  transport_options.connect_timeout = absl::GetFlag(FLAGS_upstream_connect_timeout);
  transport_options.max_idle_age = absl::GetFlag(FLAGS_upstream_max_idle_age);
  transport_options.max_lifetime = absl::GetFlag(FLAGS_upstream_max_lifetime);
  absl::StatusOr<std::unique_ptr<CurlTransport>> transport =
      CurlTransport::Create(transport_options);
  if (!transport.ok()) return Fail(transport.status().message());

  SystemClock clock;
  SourceDeps deps;
  deps.transport = transport->get();
  deps.clock = &clock;
  deps.env = GatewayEnvironment();
  deps.allow_insecure_sts_endpoint = absl::GetFlag(FLAGS_allow_insecure_endpoint);

  OtaVerifyService::Options service_options;
  service_options.default_deadline = absl::GetFlag(FLAGS_max_attempt_time);
  service_options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  if (service_options.max_in_flight < 1) return Fail("--max_in_flight must be at least 1");
  service_options.max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams);
  if (service_options.max_watch_streams < 1) {
    return Fail("--max_watch_streams must be at least 1");
  }
  if (absl::GetFlag(FLAGS_max_connection_age) <= absl::ZeroDuration()) {
    return Fail("--max_connection_age must be above 0");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, absl::Duration>{"shutdown_delay",
                                               absl::GetFlag(FLAGS_shutdown_delay)},
        {"shutdown_grace", absl::GetFlag(FLAGS_shutdown_grace)},
        {"max_connection_age_grace", absl::GetFlag(FLAGS_max_connection_age_grace)}}) {
    if (value < absl::ZeroDuration())
      return Fail(absl::StrCat("--", name, " must not be negative"));
  }
  service_options.watch.poll_interval = absl::GetFlag(FLAGS_watch_poll_interval);
  if (service_options.watch.poll_interval < absl::Milliseconds(100)) {
    return Fail("--watch_poll_interval must be at least 100ms");
  }
  // A poll may use about one interval (at least 2 s) for its calls, quota waits and retries;
  // one the quota cannot take by then is skipped, so polls never queue up behind each other.
  service_options.watch.poll_timeout =
      std::max(absl::Seconds(2), service_options.watch.poll_interval);
  // One cache per profile; the choice of source is made here, once, never at run time.
  std::vector<std::unique_ptr<CredentialsCache>> caches;
  for (const ProfileConfig& profile : *profile_configs) {
    absl::StatusOr<Endpoint> endpoint = ProfileEndpoint(profile);
    if (!endpoint.ok()) {
      return Fail(absl::StrCat("profile \"", profile.name, "\": ", endpoint.status().message()));
    }
    absl::StatusOr<std::unique_ptr<CredentialsSource>> source = SourceForProfile(profile, deps);
    if (!source.ok()) {
      return Fail(absl::StrCat("profile \"", profile.name, "\": ", source.status().message()));
    }
    CredentialsCache::Options cache_options;
    cache_options.backoff_cap = absl::GetFlag(FLAGS_credentials_backoff_cap);
    caches.push_back(std::make_unique<CredentialsCache>(profile.name, *std::move(source), &clock,
                                                        cache_options));
    service_options.profiles[profile.name] =
        Profile{profile.name, *endpoint, caches.back().get(), profile.iot_instance_id};
    Log(LogLevel::kInfo, "profile configured",
        {{"profile", profile.name},
         {"upstream", endpoint->base_url},
         {"credentials", profile.credentials}});
  }
  // Teardown order on every exit from here: the refresher stops ticking, then the transport
  // stops (failing what is pending into caches and sources that still exist), then the caches
  // go. Declared after the caches, so it runs before they are destroyed.
  std::unique_ptr<CacheRefresher> refresher;
  auto stop_io = absl::MakeCleanup([&refresher, &transport] {
    refresher.reset();
    transport->reset();
  });
  for (auto& cache : caches) {
    absl::Status ready =
        WaitForCredentials(*cache, clock, absl::GetFlag(FLAGS_credentials_startup_timeout));
    if (!ready.ok()) {
      return Fail(absl::StrCat("profile \"", cache->profile(), "\": ", ready.message()));
    }
  }
  std::vector<CredentialsCache*> cache_pointers;
  for (auto& cache : caches) cache_pointers.push_back(cache.get());
  refresher = std::make_unique<CacheRefresher>(cache_pointers, &clock);

  UpstreamCaller::Options upstream_options;
  upstream_options.signature_version = *signature_version;
  upstream_options.max_attempt_time = absl::GetFlag(FLAGS_max_attempt_time);
  upstream_options.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  upstream_options.breaker.failure_threshold = absl::GetFlag(FLAGS_breaker_failures);
  upstream_options.breaker.open_duration = absl::GetFlag(FLAGS_breaker_open);
  absl::StatusOr<absl::flat_hash_map<std::string, double>> quotas =
      ParseQuotas(absl::GetFlag(FLAGS_upstream_quotas), absl::GetFlag(FLAGS_replicas));
  if (!quotas.ok()) return Fail(quotas.status().message());
  upstream_options.quotas = *std::move(quotas);
  upstream_options.quota_headroom = absl::GetFlag(FLAGS_quota_headroom);
  if (upstream_options.quota_headroom <= 0 || upstream_options.quota_headroom > 1) {
    return Fail("--quota_headroom must be above 0 and at most 1");
  }
  // One watched job polls each of its two actions once per interval: that alone must fit in
  // this replica's share of the account's quota.
  const double polls_per_second = 1 / absl::ToDoubleSeconds(service_options.watch.poll_interval);
  for (const char* action : {kListOTATaskByJob, kQueryOTAJob}) {
    auto quota = upstream_options.quotas.find(action);
    if (quota == upstream_options.quotas.end()) continue;
    const double share = quota->second * upstream_options.quota_headroom;
    if (polls_per_second > share) {
      return Fail(absl::StrFormat(
          "--watch_poll_interval=%s polls %s %.1f times a second, more than this replica's "
          "share of the account's quota (%.1f/s); use at least %s",
          absl::FormatDuration(service_options.watch.poll_interval), action, polls_per_second,
          share, absl::FormatDuration(absl::Seconds(1 / share))));
    }
  }
  Scheduler scheduler;
  Metrics metrics;
  upstream_options.observer = &metrics;
  service_options.observer = &metrics;
  UpstreamCaller upstream(upstream_options, transport->get(), &scheduler, &clock);
  // Pending retries and quota waits run (and find their calls finished) before the upstream
  // caller they call into is destroyed, on every exit from here.
  auto drain = absl::MakeCleanup([&scheduler] { scheduler.Shutdown(); });
  OtaVerifyService service(service_options, &upstream, transport->get(), &scheduler, &clock);
  AddStateMetrics(metrics, service, upstream, caches, **transport, clock);
  // Scrapes read the objects above: stop serving them first, on every exit from here.
  auto stop_metrics = absl::MakeCleanup([&metrics] { metrics.Stop(); });
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (metrics_listen != "off") {
    absl::StatusOr<std::string> metrics_address = metrics.Serve(metrics_listen);
    if (!metrics_address.ok()) return Fail(metrics_address.status().message());
    Log(LogLevel::kInfo, "metrics listening", {{"metrics_address", *metrics_address}});
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             ClampedMillis(absl::GetFlag(FLAGS_max_connection_age)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             ClampedMillis(absl::GetFlag(FLAGS_max_connection_age_grace)));
  // Clients' keepalive pings (client.h: every 30 s) are welcome, even on idle channels.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen)));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  for (const char* name : {"", "liveness", "readiness"}) health->SetServingStatus(name, true);

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string address = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  Log(LogLevel::kInfo, "listening",
      {{"address", address},
       {"profiles", absl::StrCat(caches.size())},
       {"signature_version", absl::GetFlag(FLAGS_signature_version)}});

  // Signals were blocked in every thread before any was started; wait for one here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signal_number = 0;
  sigwait(&signals, &signal_number);

  // Readiness first: whoever sees the log line may already rely on it.
  health->SetServingStatus("readiness", false);
  health->SetServingStatus("", false);
  Log(LogLevel::kInfo, "shutting down", {{"signal", absl::StrCat(signal_number)}});
  // A second signal (an operator's second Ctrl-C, a supervisor that will not wait) ends the
  // process at once, whatever is still draining. Once the drain is over it is ignored: the
  // process is exiting anyway, and its statics may be going. Log flushes every line, so
  // _Exit loses none.
  static std::atomic<bool> drained{false};
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    if (drained.load()) return;
    Log(LogLevel::kWarning, "second signal: exiting without finishing the drain",
        {{"signal", absl::StrCat(again)}});
    std::_Exit(kForcedExitStatus);
  }).detach();
  // Watch streams never end by themselves: end them now (callers watch again elsewhere) so
  // they do not hold the drain of the unary calls.
  service.Shutdown();
  // Let the watches' final status reach their callers before connections are told to go
  // (bounded: a stuck reader cannot hold the shutdown).
  const absl::Time watches_deadline = absl::Now() + absl::Seconds(1);
  while (service.WatchStreams() > 0 && absl::Now() < watches_deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::GetFlag(FLAGS_shutdown_delay));
  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_shutdown_grace);
  server->Shutdown(absl::ToChronoTime(deadline));
  server->Wait();
  metrics.Stop();
  // Stop the machinery while everything its callbacks point at (service, watch hub, upstream
  // caller) is alive: pending timers run at once and find their work finished or stopped, then
  // the refresher stops and the transport fails what is left.
  scheduler.Shutdown();
  refresher.reset();
  transport->reset();
  drained.store(true);
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace otaverify

int main(int argc, char** argv) {
  // This Abseil is built with mutex deadlock detection on, which records every lock order in a
  // global graph: measurable on the hot path. Lock order is kept by design (and checked by the
  // TSan build), so the production binary does without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(
      "OtaVerify gateway: gRPC front of Alibaba Cloud IoT OTA verification.\n"
      "Credentials: the official ALIBABA_CLOUD_* variables (AccessKey, RRSA, profile file, ECS "
      "instance role), or named profiles in the --config file.");
  const absl::flat_hash_set<std::string> command_line_flags =
      otaverify::FlagsOnCommandLine(argc, argv);
  absl::ParseCommandLine(argc, argv);
  // A peer closing a socket must never kill the process; and signals are taken by sigwait in
  // main, so block them before any thread (curl loop, gRPC) is created.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return otaverify::Run(command_line_flags);
}
