#include "service/aliyun/signer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace otaverify {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool Unreserved(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string LowerHex(const unsigned char* data, size_t size) {
  std::string out(size * 2, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexLower[data[i] >> 4];
    out[2 * i + 1] = kHexLower[data[i] & 0xF];
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentEncode(absl::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  for (unsigned char c : in) {
    if (Unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return true;
}

std::string EncodeParams(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, PercentEncode(name), "=", PercentEncode(value));
  }
  return out;
}

std::string CanonicalQuery(Params params) {
  std::sort(params.begin(), params.end());
  return EncodeParams(params);
}

std::string StringToSignV1(absl::string_view method, absl::string_view canonical_query) {
  return absl::StrCat(method, "&", PercentEncode("/"), "&", PercentEncode(canonical_query));
}

std::string SignatureV1(absl::string_view access_key_secret, absl::string_view string_to_sign) {
  const std::string key = absl::StrCat(access_key_secret, "&");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), mac,
       &mac_len);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

CanonicalRequestV3 BuildCanonicalRequestV3(absl::string_view method,
                                           absl::string_view canonical_query, Params signed_headers,
                                           absl::string_view body_sha256_hex) {
  for (auto& [name, value] : signed_headers) {
    absl::AsciiStrToLower(&name);
    value = std::string(absl::StripAsciiWhitespace(value));
  }
  std::sort(signed_headers.begin(), signed_headers.end());
  std::string headers;
  std::string names;
  for (const auto& [name, value] : signed_headers) {
    absl::StrAppend(&headers, name, ":", value, "\n");
    if (!names.empty()) names.push_back(';');
    names.append(name);
  }
  CanonicalRequestV3 out;
  out.canonical_request = absl::StrCat(method, "\n/\n", canonical_query, "\n", headers, "\n", names,
                                       "\n", body_sha256_hex);
  out.signed_header_names = std::move(names);
  return out;
}

std::string StringToSignV3(absl::string_view canonical_request) {
  return absl::StrCat("ACS3-HMAC-SHA256\n", Sha256Hex(canonical_request));
}

std::string SignatureV3(absl::string_view access_key_secret, absl::string_view string_to_sign) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), access_key_secret.data(), static_cast<int>(access_key_secret.size()),
       reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), mac,
       &mac_len);
  return LowerHex(mac, mac_len);
}

std::string AuthorizationV3(absl::string_view access_key_id, absl::string_view signed_header_names,
                            absl::string_view signature) {
  return absl::StrCat("ACS3-HMAC-SHA256 Credential=", access_key_id,
                      ",SignedHeaders=", signed_header_names, ",Signature=", signature);
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return LowerHex(digest, sizeof(digest));
}

}  // namespace otaverify
