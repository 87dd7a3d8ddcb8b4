// JSON-lines logging: one object per line on stdout, the shape log pipelines on Kubernetes
// read. Field values are escaped; callers must never pass a secret (credentials.md §5.7).
//
// Thread-safe: lines from concurrent callers never interleave.
#ifndef OTAVERIFY_SERVICE_COMMON_LOG_H_
#define OTAVERIFY_SERVICE_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace otaverify {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogField = std::pair<absl::string_view, std::string>;

// Lines below `level` are dropped. Default kInfo. Call before serving.
void SetLogLevel(LogLevel level);
// "debug", "info", "warning", "error"; false on anything else.
bool ParseLogLevel(absl::string_view text, LogLevel* level);

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_COMMON_LOG_H_
