#include "service/server/upstream_reads.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/aliyun/error_mapping.h"

namespace otaverify {
namespace {

// Bounds on pages read for one answer: 10 devices per verify job need at most 10 pages even at
// one task per page; a firmware's jobs (verify and upgrade) at 200 per page.
constexpr int kMaxTaskPages = 20;
constexpr int kMaxJobPages = 25;

// Sends one idempotent call of a read.
void Send(const ReadContext& context, RpcCall call, UpstreamCaller::Done done) {
  UpstreamRequest request;
  request.call = std::move(call);
  request.profile = context.profile;
  request.deadline = context.deadline;
  request.idempotent = true;
  request.cancellation = context.cancellation;
  context.upstream->Execute(std::move(request), std::move(done));
}

// A 2xx answer the gateway cannot read: the same call would read the same way.
absl::Status Malformed(const absl::Status& parse_error, absl::string_view action,
                       const UpstreamResult& result) {
  const std::string request_id = result.request_ids.empty() ? "" : result.request_ids.back();
  return GatewayError(absl::StatusCode::kUnknown, parse_error.message(),
                      "UPSTREAM_MALFORMED_RESPONSE", action, {{"upstream_request_id", request_id}});
}

// One paged list being read. `parse` appends a page's items wherever its owner keeps them.
struct PagedRead {
  ReadContext context;
  absl::AnyInvocable<RpcCall(int page)> call_for_page;
  absl::AnyInvocable<absl::StatusOr<PageInfo>(absl::string_view body)> parse;
  int max_pages = 1;
  std::shared_ptr<UpstreamTrace> trace;
  absl::AnyInvocable<void(absl::Status) &&> done;
  int collected = 0;
};

void ReadPage(std::shared_ptr<PagedRead> read, int page) {
  RpcCall call = read->call_for_page(page);
  const std::string action = call.action;
  const ReadContext context = read->context;  // `read` moves into the callback
  Send(context, std::move(call),
       [read = std::move(read), page, action](UpstreamResult result) mutable {
         read->trace->Add(action, result);
         if (!result.status.ok()) return std::move(read->done)(result.status);
         absl::StatusOr<PageInfo> info = read->parse(result.body);
         if (!info.ok()) return std::move(read->done)(Malformed(info.status(), action, result));
         read->collected += info->items;
         if (!NeedAnotherPage(*info, page, read->collected)) {
           return std::move(read->done)(absl::OkStatus());
         }
         if (page >= read->max_pages) {
           // Reading on could take forever; stopping here would answer with part of the list.
           return std::move(read->done)(Malformed(
               absl::InternalError(absl::StrCat("upstream ", action, " lists more than ",
                                                read->max_pages, " pages (Total ", info->total,
                                                ", PageCount ", info->page_count, ")")),
               action, result));
         }
         ReadPage(std::move(read), page + 1);
       });
}

void ReadAllPages(ReadContext context, absl::AnyInvocable<RpcCall(int page)> call_for_page,
                  absl::AnyInvocable<absl::StatusOr<PageInfo>(absl::string_view body)> parse,
                  int max_pages, std::shared_ptr<UpstreamTrace> trace,
                  absl::AnyInvocable<void(absl::Status) &&> done) {
  auto read = std::make_shared<PagedRead>();
  read->context = std::move(context);
  read->call_for_page = std::move(call_for_page);
  read->parse = std::move(parse);
  read->max_pages = max_pages;
  read->trace = std::move(trace);
  read->done = std::move(done);
  ReadPage(std::move(read), 1);
}

}  // namespace

void UpstreamTrace::Add(absl::string_view action, const UpstreamResult& result) {
  if (std::find(actions.begin(), actions.end(), action) == actions.end()) {
    actions.emplace_back(action);
  }
  request_ids.insert(request_ids.end(), result.request_ids.begin(), result.request_ids.end());
  attempts += result.attempts;
  if (!result.transfer.http_version.empty()) transfer = result.transfer;
}

void UpstreamTrace::Add(const UpstreamTrace& other) {
  for (const std::string& action : other.actions) {
    if (std::find(actions.begin(), actions.end(), action) == actions.end()) {
      actions.push_back(action);
    }
  }
  request_ids.insert(request_ids.end(), other.request_ids.begin(), other.request_ids.end());
  attempts += other.attempts;
  if (!other.transfer.http_version.empty()) transfer = other.transfer;
}

void ReadJobHeader(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done) {
  RpcCall query = QueryJobCall(job_id, context.iot_instance_id);
  Send(context, std::move(query), [done = std::move(done)](UpstreamResult result) mutable {
    UpstreamTrace trace;
    trace.Add(kQueryOTAJob, result);
    if (!result.status.ok()) return std::move(done)(result.status, std::move(trace));
    absl::StatusOr<v1::VerifyJob> parsed = ParseVerifyJob(result.body);
    // INTERNAL: unreadable. Anything else is a verdict on the job (not a verify job).
    if (parsed.status().code() == absl::StatusCode::kInternal) {
      parsed = Malformed(parsed.status(), kQueryOTAJob, result);
    }
    std::move(done)(std::move(parsed), std::move(trace));
  });
}

void ReadJobTasks(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done) {
  auto job = std::make_shared<v1::VerifyJob>();
  auto trace = std::make_shared<UpstreamTrace>();
  const std::string instance = context.iot_instance_id;
  ReadAllPages(
      std::move(context),
      [job_id, instance](int page) { return ListTasksByJobCall(job_id, instance, page); },
      [job](absl::string_view body) { return ParseTaskPage(body, job.get()); }, kMaxTaskPages,
      trace,
      [job, trace, done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) return std::move(done)(status, std::move(*trace));
        std::move(done)(std::move(*job), std::move(*trace));
      });
}

void ReadVerifyJob(ReadContext context, std::string job_id, ReadDone<v1::VerifyJob> done) {
  ReadContext header_context = context;
  ReadJobHeader(std::move(header_context), job_id,
                [context = std::move(context), job_id, done = std::move(done)](
                    absl::StatusOr<v1::VerifyJob> header, UpstreamTrace header_trace) mutable {
                  if (!header.ok())
                    return std::move(done)(header.status(), std::move(header_trace));
                  ReadJobTasks(std::move(context), job_id,
                               [header = *std::move(header), header_trace = std::move(header_trace),
                                done = std::move(done)](absl::StatusOr<v1::VerifyJob> tasks,
                                                        UpstreamTrace tasks_trace) mutable {
                                 header_trace.Add(tasks_trace);
                                 if (!tasks.ok())
                                   return std::move(done)(tasks.status(), header_trace);
                                 *header.mutable_tasks() = std::move(*tasks->mutable_tasks());
                                 header.set_finished(VerifyJobFinished(header));
                                 std::move(done)(std::move(header), std::move(header_trace));
                               });
                });
}

namespace {

void ReadJobsInto(ReadContext context, const std::string& firmware_id,
                  std::shared_ptr<UpstreamTrace> trace,
                  absl::AnyInvocable<void(absl::StatusOr<std::vector<FirmwareJob>>) &&> done) {
  auto jobs = std::make_shared<std::vector<FirmwareJob>>();
  const std::string instance = context.iot_instance_id;
  ReadAllPages(
      std::move(context),
      [firmware_id, instance](int page) {
        return ListJobsByFirmwareCall(firmware_id, instance, page);
      },
      [jobs](absl::string_view body) { return ParseFirmwareJobPage(body, jobs.get()); },
      kMaxJobPages, std::move(trace),
      [jobs, done = std::move(done)](absl::Status status) mutable {
        if (!status.ok()) return std::move(done)(status);
        std::move(done)(std::move(*jobs));
      });
}

}  // namespace

void ReadFirmwareJobs(ReadContext context, std::string firmware_id,
                      ReadDone<std::vector<FirmwareJob>> done) {
  auto trace = std::make_shared<UpstreamTrace>();
  ReadJobsInto(
      std::move(context), firmware_id, trace,
      [trace, done = std::move(done)](absl::StatusOr<std::vector<FirmwareJob>> jobs) mutable {
        std::move(done)(std::move(jobs), std::move(*trace));
      });
}

void ReadFirmwareVerification(ReadContext context, std::string firmware_id,
                              ReadDone<v1::FirmwareVerification> done) {
  RpcCall query = QueryFirmwareCall(firmware_id, context.iot_instance_id);
  Send(context, std::move(query),
       [context, firmware_id, done = std::move(done)](UpstreamResult result) mutable {
         auto trace = std::make_shared<UpstreamTrace>();
         trace->Add(kQueryOTAFirmware, result);
         if (!result.status.ok()) return std::move(done)(result.status, std::move(*trace));
         absl::StatusOr<v1::FirmwareVerification> parsed = ParseFirmwareVerification(result.body);
         if (!parsed.ok()) {
           return std::move(done)(Malformed(parsed.status(), kQueryOTAFirmware, result),
                                  std::move(*trace));
         }
         if (parsed->firmware_id().empty()) parsed->set_firmware_id(firmware_id);
         if (parsed->state() == v1::VERIFICATION_STATE_NOT_REQUIRED) {
           return std::move(done)(*std::move(parsed), std::move(*trace));
         }
         ReadJobsInto(std::move(context), firmware_id, trace,
                      [verification = *std::move(parsed), trace, done = std::move(done)](
                          absl::StatusOr<std::vector<FirmwareJob>> jobs) mutable {
                        if (!jobs.ok()) return std::move(done)(jobs.status(), std::move(*trace));
                        absl::optional<FirmwareJob> job = ActiveVerifyJob(*jobs);
                        if (!job.has_value()) job = NewestVerifyJob(*jobs);
                        if (job.has_value()) {
                          verification.set_verify_job_id(job->job_id);
                          verification.set_verify_job_state(job->state);
                        }
                        std::move(done)(std::move(verification), std::move(*trace));
                      });
       });
}

}  // namespace otaverify
