#include "service/server/signature_mismatch_log.h"

#include "gtest/gtest.h"

namespace otaverify {
namespace {

Credentials TestCredentials(const std::string& key_id) {
  Credentials c;
  c.access_key_id = key_id;
  c.access_key_secret = "secret";
  c.source = "test";
  return c;
}

RpcCall Call(Params params) {
  RpcCall call;
  call.action = "CreateOTAVerifyJob";
  call.params = std::move(params);
  return call;
}

TEST(ServerStringToSign, ExtractsTheTextAfterTheMarker) {
  EXPECT_EQ(ServerStringToSign("Specified signature is not matched with our calculation. server "
                               "string to sign is:POST&%2F&A%3Db"),
            "POST&%2F&A%3Db");
  EXPECT_EQ(ServerStringToSign("Specified signature is not matched."), "");
}

TEST(SignatureMismatchLog, LogsEachKindOnce) {
  SignatureMismatchLog log;
  const Credentials creds = TestCredentials("id-1");
  EXPECT_TRUE(log.Report(Call({{"FirmwareId", "a"}}), SignatureVersion::kV1, "s1", "m", "r", creds));
  // Same names, other values, nonce and time: the same kind of mismatch.
  EXPECT_FALSE(log.Report(Call({{"FirmwareId", "b"}}), SignatureVersion::kV1, "s2", "m", "r", creds));
  // Another parameter set, version or key is another kind.
  EXPECT_TRUE(log.Report(Call({{"FirmwareId", "a"}, {"NeedPush", "true"}}), SignatureVersion::kV1,
                         "s3", "m", "r", creds));
  EXPECT_TRUE(log.Report(Call({{"FirmwareId", "a"}}), SignatureVersion::kV3, "s4", "m", "r", creds));
  EXPECT_TRUE(log.Report(Call({{"FirmwareId", "a"}}), SignatureVersion::kV1, "s5", "m", "r",
                         TestCredentials("id-2")));
}

}  // namespace
}  // namespace otaverify
