// Fuzz target: the signer's percent-encoding and canonicalisation (signer.h, protocol.md §2–§5).
//
// Properties, on arbitrary bytes:
//   - PercentEncode emits only unreserved characters and "%XX" with upper-case hex, and
//     PercentDecode(PercentEncode(x)) == x;
//   - PercentDecode either fails or yields a string whose encoding decodes back to it;
//   - EncodeParams keeps the given order and each pair decodes back to its raw name and value;
//   - CanonicalQuery is EncodeParams of the pairs sorted by raw name then value, and does not
//     depend on the order the pairs come in;
//   - the V1 / V3 string-to-sign builders accept anything.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "service/aliyun/signer.h"
#include "tests/fuzz/require.h"

namespace otaverify {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == '~';
}

bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

void CheckEncoding(absl::string_view raw) {
  const std::string encoded = PercentEncode(raw);
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%') {
      Require(i + 2 < encoded.size() && IsUpperHex(encoded[i + 1]) && IsUpperHex(encoded[i + 2]),
              "PercentEncode emits %XX with upper-case hex");
      i += 2;
    } else {
      Require(IsUnreserved(encoded[i]), "PercentEncode emits only unreserved characters");
    }
  }
  std::string decoded;
  Require(PercentDecode(encoded, &decoded), "PercentDecode accepts PercentEncode's output");
  Require(decoded == raw, "PercentDecode(PercentEncode(x)) == x");
}

// Splits an encoded query into decoded pairs; every part must have one '='.
std::vector<std::pair<std::string, std::string>> DecodeQuery(absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (query.empty()) return pairs;
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    const size_t eq = part.find('=');
    Require(eq != absl::string_view::npos, "every encoded pair has a '='");
    Require(part.find('=', eq + 1) == absl::string_view::npos, "'=' inside a name or value is encoded");
    std::string name;
    std::string value;
    Require(PercentDecode(part.substr(0, eq), &name), "encoded names decode");
    Require(PercentDecode(part.substr(eq + 1), &value), "encoded values decode");
    pairs.emplace_back(std::move(name), std::move(value));
  }
  return pairs;
}

void CheckParams(FuzzedDataProvider& input) {
  Params params;
  const size_t count = input.ConsumeIntegralInRange<size_t>(0, 8);
  for (size_t i = 0; i < count; ++i) {
    std::string name = input.ConsumeRandomLengthString(32);
    std::string value = input.ConsumeRandomLengthString(64);
    params.emplace_back(std::move(name), std::move(value));
  }
  // EncodeParams: order kept, pairs recoverable.
  Require(DecodeQuery(EncodeParams(params)) == params, "EncodeParams round-trips in order");

  // CanonicalQuery: sorted by raw name then value, independent of input order.
  const std::string canonical = CanonicalQuery(params);
  const std::vector<std::pair<std::string, std::string>> canonical_pairs = DecodeQuery(canonical);
  Require(std::is_sorted(canonical_pairs.begin(), canonical_pairs.end()),
          "CanonicalQuery sorts by raw name, then value");
  Params sorted = params;
  std::sort(sorted.begin(), sorted.end());
  Require(canonical_pairs == sorted, "CanonicalQuery holds exactly the given pairs");
  Params reversed(params.rbegin(), params.rend());
  Require(CanonicalQuery(reversed) == canonical, "CanonicalQuery ignores the input order");

  // The string-to-sign builders: anything in, no crash; V3 header names come out lower-case.
  const std::string method = input.ConsumeRandomLengthString(8);
  (void)StringToSignV1(method, canonical);
  const CanonicalRequestV3 v3 = BuildCanonicalRequestV3(method, canonical, params, "");
  for (char c : v3.signed_header_names) {
    Require(!(c >= 'A' && c <= 'Z'), "V3 signed header names are lower-case");
  }
  (void)StringToSignV3(v3.canonical_request);
}

}  // namespace
}  // namespace otaverify

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  otaverify::CheckEncoding(bytes);

  // Arbitrary bytes as an encoded text: a failure is fine, a success must be consistent.
  std::string decoded;
  if (otaverify::PercentDecode(bytes, &decoded)) {
    std::string again;
    otaverify::Require(otaverify::PercentDecode(otaverify::PercentEncode(decoded), &again) &&
                           again == decoded,
                       "a decoded text re-encodes to an equivalent form");
  }

  FuzzedDataProvider input(data, size);
  otaverify::CheckParams(input);
  return 0;
}
