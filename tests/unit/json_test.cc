#include "service/common/json.h"

#include "gtest/gtest.h"

namespace otaverify {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\re\tf"), R"("a\"b\\c\nd\re\tf")");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(JsonQuote(""), R"("")");
}

TEST(JsonQuote, KeepsValidUtf8AsIs) {
  EXPECT_EQ(JsonQuote("华东 😀 é"), "\"华东 😀 é\"");
}

TEST(JsonQuote, ReplacesMalformedUtf8) {
  EXPECT_EQ(JsonQuote("a\xff" "b"), "\"a\xEF\xBF\xBD" "b\"");          // stray byte
  EXPECT_EQ(JsonQuote("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");      // overlong '/'
  EXPECT_EQ(JsonQuote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
  EXPECT_EQ(JsonQuote("\xE5\x8D"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");      // cut short
}

}  // namespace
}  // namespace otaverify
