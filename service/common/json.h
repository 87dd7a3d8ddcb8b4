// JSON string literals written by hand: the gateway's log lines, the emulator's answers and the
// CLI's --json output share this one escaper, so all of them agree on what valid output is.
//
// Malformed UTF-8 (bad sequences, overlong forms, surrogates) becomes U+FFFD: a log line or an
// answer must stay valid JSON whatever bytes a peer sent. Pure functions; thread-safe.
#ifndef OTAVERIFY_SERVICE_COMMON_JSON_H_
#define OTAVERIFY_SERVICE_COMMON_JSON_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace otaverify {

// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr char kUtf8Replacement[] = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is malformed.
// REQUIRES: i < s.size().
size_t Utf8SequenceLength(absl::string_view s, size_t i);

// Appends `s` to `out` with every well-formed multi-byte UTF-8 sequence copied, every malformed
// byte replaced by U+FFFD, and every ASCII byte handed to `escape_ascii(c, out)`: the walk the
// JSON and XML writers share.
template <typename EscapeAscii>
void AppendSanitizedUtf8(absl::string_view s, std::string* out, EscapeAscii escape_ascii) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out->append(kUtf8Replacement);
      ++i;
    } else if (len > 1) {
      out->append(s.data() + i, len);
      i += len;
    } else {
      escape_ascii(static_cast<unsigned char>(s[i]), out);
      ++i;
    }
  }
}

// Appends `s` to `out` as a JSON string literal, quotes included.
void AppendJsonQuoted(absl::string_view s, std::string* out);

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_COMMON_JSON_H_
