// ApiError: one upstream error as the emulator reports it, in either of the two layers of
// protocol.md §8.
//
// Gateway layer: HTTP 4xx/5xx, body {RequestId, HostId, Code, Message, Recommend}.
// Business layer: HTTP 200, body {RequestId, Success:false, Code, ErrorMessage}.
// A plain value type; thread-compatible.
#ifndef OTAVERIFY_EMULATOR_API_ERROR_H_
#define OTAVERIFY_EMULATOR_API_ERROR_H_

#include <string>
#include <utility>

namespace otaverify {
namespace emulator {

struct ApiError {
  int http_status = 400;  // 200 for the business layer
  std::string code;
  std::string message;

  bool business() const { return http_status == 200; }
};

inline ApiError GatewayError(int http_status, std::string code, std::string message) {
  return ApiError{http_status, std::move(code), std::move(message)};
}

inline ApiError BusinessError(std::string code, std::string message) {
  return ApiError{200, std::move(code), std::move(message)};
}

}  // namespace emulator
}  // namespace otaverify

#endif  // OTAVERIFY_EMULATOR_API_ERROR_H_
