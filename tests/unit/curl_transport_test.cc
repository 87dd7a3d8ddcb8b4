// CurlTransport against a scripted loopback peer: reuse, bounds, timeouts, cancellation and
// every failure class http_transport.h documents.
#include "service/transport/curl_transport.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/loopback_server.h"
#include "tests/testing/status_matchers.h"

namespace otaverify {
namespace {

using ::otaverify::testing::HttpResponseText;
using ::otaverify::testing::LoopbackServer;
using ::otaverify::testing::ReadRequestHead;
using ::otaverify::testing::StatusIs;
using ::otaverify::testing::WriteAll;
using absl::StatusCode;

std::unique_ptr<CurlTransport> NewTransport(int max_connections = 8) {
  CurlTransport::Options options;
  options.max_host_connections = max_connections;
  options.max_response_bytes = 1 << 20;
  auto transport = CurlTransport::Create(options);
  EXPECT_TRUE(transport.ok());
  return *std::move(transport);
}

HttpRequest Post(const std::string& url, absl::Duration timeout = absl::Seconds(5)) {
  HttpRequest r;
  r.method = "POST";
  r.url = url + "/?Action=Test";
  r.timeout = timeout;
  return r;
}

// Sends and waits for the callback.
absl::StatusOr<HttpResponse> SendAndWait(HttpTransport& transport, HttpRequest request) {
  absl::Notification done;
  absl::StatusOr<HttpResponse> result;
  transport.Send(std::move(request), [&](absl::StatusOr<HttpResponse> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// Answers every request on a connection with 200 {"ok":true}, keeping it alive.
void KeepAliveOk(int fd) {
  while (ReadRequestHead(fd)) WriteAll(fd, HttpResponseText(200, R"({"ok":true})"));
}

TEST(CurlTransport, SequentialRequestsReuseOneConnection) {
  LoopbackServer server(KeepAliveOk);
  auto transport = NewTransport();
  for (int i = 0; i < 20; ++i) {
    auto response = SendAndWait(*transport, Post(server.url()));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, R"({"ok":true})");
    EXPECT_EQ(response->info.new_connection, i == 0);
    EXPECT_EQ(response->info.http_version, "1.1");
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(transport->GetStats().connections_opened, 1u);
}

TEST(CurlTransport, HttpErrorStatusIsAResponseNotAFailure) {
  LoopbackServer server([](int fd) {
    while (ReadRequestHead(fd)) WriteAll(fd, HttpResponseText(503, R"({"Code":"X"})"));
  });
  auto transport = NewTransport();
  auto response = SendAndWait(*transport, Post(server.url()));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 503);
  // And the connection stays usable after an error status.
  ASSERT_TRUE(SendAndWait(*transport, Post(server.url())).ok());
  EXPECT_EQ(server.connections(), 1);
}

TEST(CurlTransport, ConcurrentRequestsStayWithinTheConnectionBound) {
  LoopbackServer server([](int fd) {
    while (ReadRequestHead(fd)) {
      absl::SleepFor(absl::Milliseconds(20));
      WriteAll(fd, HttpResponseText(200, "{}"));
    }
  });
  auto transport = NewTransport(/*max_connections=*/2);
  constexpr int kCalls = 40;
  std::atomic<int> ok{0};
  absl::BlockingCounter left(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    transport->Send(Post(server.url()), [&](absl::StatusOr<HttpResponse> r) {
      if (r.ok() && r->status == 200) ok.fetch_add(1);
      left.DecrementCount();
    });
  }
  left.Wait();
  EXPECT_EQ(ok.load(), kCalls);
  EXPECT_LE(server.connections(), 2);
}

TEST(CurlTransport, ConnectionRefusedIsUnavailable) {
  int port;
  { LoopbackServer closed([](int) {}); port = closed.port(); }
  auto transport = NewTransport();
  EXPECT_THAT(SendAndWait(*transport, Post("http://127.0.0.1:" + std::to_string(port))).status(),
              StatusIs(StatusCode::kUnavailable));
}

TEST(CurlTransport, NoAnswerInTimeIsDeadlineExceeded) {
  LoopbackServer server([](int fd) {
    ReadRequestHead(fd);
    ::otaverify::testing::WaitForPeerClose(fd, 5000);
  });
  auto transport = NewTransport();
  const absl::Time start = absl::Now();
  EXPECT_THAT(SendAndWait(*transport, Post(server.url(), absl::Milliseconds(200))).status(),
              StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(CurlTransport, CancelAbortsTheTransferAndDropsItsConnection) {
  absl::Notification request_seen;
  absl::Notification peer_closed;
  LoopbackServer server([&](int fd) {
    ReadRequestHead(fd);
    request_seen.Notify();
    if (::otaverify::testing::WaitForPeerClose(fd, 5000)) peer_closed.Notify();
  });
  auto transport = NewTransport();
  absl::Notification done;
  absl::Status status;
  const TransferId id = transport->Send(Post(server.url()), [&](absl::StatusOr<HttpResponse> r) {
    status = r.status();
    done.Notify();
  });
  ASSERT_TRUE(request_seen.WaitForNotificationWithTimeout(absl::Seconds(5)));
  transport->Cancel(id);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_THAT(status, StatusIs(StatusCode::kCancelled));
  EXPECT_TRUE(peer_closed.WaitForNotificationWithTimeout(absl::Seconds(1)));
  transport->Cancel(id);  // a second cancel of a finished transfer is a no-op
  EXPECT_EQ(transport->GetStats().transfers_cancelled, 1u);
}

TEST(CurlTransport, OversizedBodyIsResourceExhausted) {
  LoopbackServer server([](int fd) {
    if (ReadRequestHead(fd)) WriteAll(fd, HttpResponseText(200, std::string(2 << 20, 'x')));
  });
  auto transport = NewTransport();
  EXPECT_THAT(SendAndWait(*transport, Post(server.url())).status(),
              StatusIs(StatusCode::kResourceExhausted));
}

TEST(CurlTransport, TruncatedBodyAfterSendingIsUnknown) {
  LoopbackServer server([](int fd) {
    if (ReadRequestHead(fd)) {
      WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":");
    }
  });
  auto transport = NewTransport();
  EXPECT_THAT(SendAndWait(*transport, Post(server.url())).status(),
              StatusIs(StatusCode::kUnknown));
}

TEST(CurlTransport, ResetAfterTheRequestIsUnknown) {
  LoopbackServer server([](int fd) {
    if (ReadRequestHead(fd)) ::otaverify::testing::ResetConnection(fd);
  });
  auto transport = NewTransport();
  EXPECT_THAT(SendAndWait(*transport, Post(server.url())).status(),
              StatusIs(StatusCode::kUnknown));
}

TEST(CurlTransport, ServerClosingAKeptAliveConnectionIsSurvived) {
  // Each connection answers one request with keep-alive, then closes: the next request finds a
  // dead pooled connection (the stale keep-alive race) and must still succeed.
  LoopbackServer server([](int fd) {
    if (ReadRequestHead(fd)) WriteAll(fd, HttpResponseText(200, "{}"));
  });
  auto transport = NewTransport();
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    auto response = SendAndWait(*transport, Post(server.url()));
    ASSERT_TRUE(response.ok()) << i << ": " << response.status();
    // No pause: the close often races the reuse, which is the point.
  }
  EXPECT_GE(server.connections(), kCalls);
}

TEST(CurlTransport, RequestOnAKeptAliveConnectionTheServerDropsIsSentAgain) {
  // The first connection answers one request, then reads the next and closes without an
  // answer, as a server does when its idle timeout fires just as a reused connection sends.
  std::atomic<int> connection_index{0};
  std::atomic<int> requests{0};
  LoopbackServer server([&](int fd) {
    const bool first = connection_index.fetch_add(1) == 0;
    while (ReadRequestHead(fd)) {
      const int n = requests.fetch_add(1) + 1;
      if (first && n == 2) return;  // closes unanswered
      WriteAll(fd, HttpResponseText(200, "{}"));
    }
  });
  auto transport = NewTransport();
  ASSERT_TRUE(SendAndWait(*transport, Post(server.url())).ok());
  auto second = SendAndWait(*transport, Post(server.url()));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(requests.load(), 3);  // the dropped one was sent again on a new connection
  EXPECT_EQ(server.connections(), 2);
}

TEST(CurlTransport, DestroyingTheTransportFailsWhatIsPendingWithCancelled) {
  LoopbackServer server([](int fd) {
    ReadRequestHead(fd);
    ::otaverify::testing::WaitForPeerClose(fd, 5000);
  });
  auto transport = NewTransport();
  std::vector<absl::Status> results(5);
  std::atomic<int> finished{0};
  for (auto& result : results) {
    transport->Send(Post(server.url()), [&](absl::StatusOr<HttpResponse> r) {
      result = r.status();
      finished.fetch_add(1);
    });
  }
  absl::SleepFor(absl::Milliseconds(100));
  transport.reset();
  EXPECT_EQ(finished.load(), 5);
  for (const auto& result : results) EXPECT_THAT(result, StatusIs(StatusCode::kCancelled));
}

}  // namespace
}  // namespace otaverify
