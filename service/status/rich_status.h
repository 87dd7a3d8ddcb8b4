// Rich error statuses: absl::Status values that carry google.rpc error details, and the one
// conversion to and from grpc::Status.
//
// Details ride as absl::Status payloads keyed by their type URL
// ("type.googleapis.com/google.rpc.BadRequest") holding the serialized message, so every layer
// speaks absl::Status and only the gRPC edge builds a grpc::Status (AIP-193: at most one detail
// of each type). Thread-compatible values.
#ifndef OTAVERIFY_SERVICE_STATUS_RICH_STATUS_H_
#define OTAVERIFY_SERVICE_STATUS_RICH_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/types/optional.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/rpc/status.pb.h"

namespace otaverify {

// The ErrorInfo domain of every error the gateway produces.
inline constexpr char kErrorDomain[] = "otaverify.v1";

std::string DetailTypeUrl(const google::protobuf::Message& message);

// Attaches `detail`, replacing an earlier detail of the same type. No-op on an OK status.
void SetDetail(absl::Status& status, const google::protobuf::Message& detail);

// The detail of type T, if the status carries one.
template <typename T>
absl::optional<T> GetDetail(const absl::Status& status) {
  T message;
  const absl::optional<absl::Cord> payload = status.GetPayload(DetailTypeUrl(message));
  if (!payload.has_value() || !message.ParseFromString(std::string(*payload))) return absl::nullopt;
  return message;
}

google::rpc::Status ToRpcStatus(const absl::Status& status);
absl::Status FromRpcStatus(const google::rpc::Status& status);

// The only place a grpc::Status is built from the gateway's errors: code, message and the
// google.rpc.Status in grpc-status-details-bin.
grpc::Status ToGrpcStatus(const absl::Status& status);
// Reads code, message and details back (details are dropped if the trailer does not parse).
absl::Status FromGrpcStatus(const grpc::Status& status);

// "INVALID_ARGUMENT" for absl::StatusCode::kInvalidArgument, as gRPC names codes.
std::string StatusCodeName(absl::StatusCode code);

}  // namespace otaverify

#endif  // OTAVERIFY_SERVICE_STATUS_RICH_STATUS_H_
