// Metrics label values stay bounded whatever a peer sends, and the codes alerts rely on keep
// their own label.
#include "service/server/metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace otaverify {
namespace {

using ::testing::HasSubstr;

int SeriesOf(const std::string& text, const std::string& name) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, name + "{")) ++n;
  }
  return n;
}

TEST(Metrics, UpstreamLabelsStayBoundedAndAlertCodesKeepTheirName) {
  Metrics metrics;
  for (int i = 0; i < 500; ++i) {
    metrics.OnAttempt("CreateOTAVerifyJob", 200 + i, absl::StrCat("iot.junk.Code", i),
                      absl::Milliseconds(1), false);
  }
  metrics.OnAttempt("CreateOTAVerifyJob", 400, "Throttling.User", absl::Milliseconds(1), false);
  metrics.OnAttempt("CreateOTAVerifyJob", 503, "ServiceUnavailable", absl::Milliseconds(1), false);
  const std::string text = metrics.Text();
  // 100 distinct junk codes, then "other"; statuses by class beyond the few kept by number.
  EXPECT_LE(SeriesOf(text, "otaverify_upstream_requests_total"), 100 + 2 + 4 * 4);
  EXPECT_THAT(text, HasSubstr(R"(upstream_code="other")"));
  EXPECT_THAT(text, HasSubstr(R"(http_status="4xx")"));
  EXPECT_THAT(text, HasSubstr(R"(http_status="other")"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(otaverify_upstream_requests_total{action="CreateOTAVerifyJob",http_status="400",upstream_code="Throttling.User"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(otaverify_upstream_requests_total{action="CreateOTAVerifyJob",http_status="503",upstream_code="ServiceUnavailable"} 1)"));
}

TEST(Metrics, SamplersAreReadAtScrapeTime) {
  Metrics metrics;
  int value = 1;
  metrics.AddSampler("otaverify_test_gauge", "a test gauge", Metrics::Kind::kGauge, [&value] {
    return std::vector<Metrics::Sample>{{{{"profile", "default"}}, static_cast<double>(value)}};
  });
  EXPECT_THAT(metrics.Text(), HasSubstr(R"(otaverify_test_gauge{profile="default"} 1)"));
  value = 7;
  EXPECT_THAT(metrics.Text(), HasSubstr(R"(otaverify_test_gauge{profile="default"} 7)"));
}

}  // namespace
}  // namespace otaverify
