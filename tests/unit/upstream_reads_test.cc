// Multi-call reads over a scripted upstream: every page is read and the upstream's own page
// size followed; a list claiming more pages than the bound, an unreadable page, or a job that
// is not a verify job fails the whole read.
#include "service/server/upstream_reads.h"

#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/credentials/credentials.h"
#include "tests/testing/fake_http_transport.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::ErrorReason;
using ::otaverify::testing::FakeHttpTransport;
using ::otaverify::testing::Reply;
using ::otaverify::testing::StatusIs;

std::string Header(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "";
}

// The value of query parameter `name` in the request URL.
int QueryInt(const HttpRequest& request, const std::string& name) {
  const std::string key = absl::StrCat(name, "=");
  const size_t at = request.url.find(key);
  if (at == std::string::npos) return 0;
  const size_t end = request.url.find('&', at);
  int value = 0;
  EXPECT_TRUE(absl::SimpleAtoi(request.url.substr(at + key.size(), end - at - key.size()), &value));
  return value;
}

class UpstreamReadsTest : public ::testing::Test {
 protected:
  UpstreamReadsTest()
      : credentials_(
            Credentials{"test-key-id", "test-key-secret", "", absl::InfiniteFuture(), "test"}) {
    profile_.name = "default";
    profile_.endpoint = *ParseEndpoint("http://127.0.0.1:1");
    profile_.credentials = &credentials_;
    UpstreamCaller::Options options;
    options.max_attempts = 1;
    upstream_ = std::make_unique<UpstreamCaller>(options, &transport_, &scheduler_, &clock_);
  }
  ~UpstreamReadsTest() override { scheduler_.Shutdown(); }

  // A job of `tasks` tasks served at most `page_size` per page, whatever was asked for;
  // `page_count` overrides the PageCount the pages claim.
  void ServeJob(int tasks, int page_size, const std::string& job_type = "VERFIY_FIRMWARE",
                int page_count = -1) {
    transport_.SetHandler([=](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
      if (Header(request, "x-acs-action") == "QueryOTAJob") {
        return Reply(200,
                     absl::StrCat(R"({"RequestId":"Q","Success":true,"Data":{"JobId":"j",)",
                                  R"("JobType":")", job_type, R"(","JobStatus":"COMPLETED"}})"));
      }
      const int page = QueryInt(request, "CurrentPage");
      std::string items;
      for (int i = (page - 1) * page_size; i < std::min(tasks, page * page_size); ++i) {
        absl::StrAppend(&items, items.empty() ? "" : ",", R"({"TaskId":"t)", i,
                        R"(","DeviceName":"d)", i, R"(","TaskStatus":"SUCCEEDED"})");
      }
      const int pages = page_count >= 0 ? page_count : (tasks + page_size - 1) / page_size;
      return Reply(200, absl::StrCat(R"({"RequestId":"L)", page, R"(","Success":true,"Total":)",
                                     tasks, R"(,"PageSize":)", page_size, R"(,"PageCount":)", pages,
                                     R"(,"Data":{"SimpleOTATaskInfo":[)", items, "]}}"));
    });
  }

  std::pair<absl::StatusOr<v1::VerifyJob>, UpstreamTrace> Read() {
    ReadContext context;
    context.upstream = upstream_.get();
    context.profile = &profile_;
    context.deadline = clock_.Now() + absl::Seconds(10);
    context.cancellation = std::make_shared<CallCancellation>(&transport_);
    absl::StatusOr<v1::VerifyJob> job = absl::UnknownError("no answer");
    UpstreamTrace trace;
    absl::Notification done;
    ReadVerifyJob(context, "j", [&](absl::StatusOr<v1::VerifyJob> result, UpstreamTrace t) {
      job = std::move(result);
      trace = std::move(t);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return {job, trace};
  }

  FakeHttpTransport transport_;
  StaticCredentialsProvider credentials_;
  Profile profile_;
  SystemClock clock_;
  Scheduler scheduler_;
  std::unique_ptr<UpstreamCaller> upstream_;
};

TEST_F(UpstreamReadsTest, FollowsTheUpstreamsPageSize) {
  ServeJob(/*tasks=*/10, /*page_size=*/3);
  auto [job, trace] = Read();
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->tasks_size(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(job->tasks(i).device_name(), absl::StrCat("d", i));
  EXPECT_TRUE(job->finished());
  EXPECT_EQ(transport_.request_count(), 5u);  // the job, then 4 pages
  EXPECT_THAT(trace.actions, ::testing::ElementsAre("QueryOTAJob", "ListOTATaskByJob"));
  EXPECT_THAT(trace.request_ids, ::testing::ElementsAre("Q", "L1", "L2", "L3", "L4"));
  EXPECT_EQ(trace.attempts, 5);
}

TEST_F(UpstreamReadsTest, AListClaimingEndlessPagesFailsInsteadOfAnsweringPartOfIt) {
  ServeJob(/*tasks=*/1000, /*page_size=*/1);
  auto [job, trace] = Read();
  EXPECT_THAT(job.status(), StatusIs(absl::StatusCode::kUnknown));
  EXPECT_EQ(ErrorReason(job.status()), "UPSTREAM_MALFORMED_RESPONSE");
  EXPECT_THAT(std::string(job.status().message()), ::testing::HasSubstr("more than 20 pages"));
  EXPECT_EQ(transport_.request_count(), 21u);  // the job and the 20 pages the bound allows
}

TEST_F(UpstreamReadsTest, AnUpgradeJobIsRefusedBeforeItsTasksAreRead) {
  ServeJob(/*tasks=*/3, /*page_size=*/100, "UPGRADE_FIRMWARE");
  auto [job, trace] = Read();
  EXPECT_THAT(job.status(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrorReason(job.status()), "NOT_A_VERIFY_JOB");
  EXPECT_EQ(transport_.request_count(), 1u);
}

TEST_F(UpstreamReadsTest, AnUnreadablePageFailsTheRead) {
  transport_.SetHandler([](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
    if (Header(request, "x-acs-action") == "QueryOTAJob") {
      return Reply(200, R"({"RequestId":"Q","Success":true,"Data":{"JobId":"j"}})");
    }
    return Reply(200, R"({"RequestId":"L","Success":true,"Data":{"SimpleOTATaskInfo":"x"}})");
  });
  auto [job, trace] = Read();
  EXPECT_THAT(job.status(), StatusIs(absl::StatusCode::kUnknown));
  EXPECT_EQ(ErrorReason(job.status()), "UPSTREAM_MALFORMED_RESPONSE");
}

}  // namespace
}  // namespace otaverify
