#include "client/cli_output.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "service/status/rich_status.h"

namespace otaverify {
namespace {

// Text rendering, one function per google.rpc detail type. Indentation: two spaces under the
// "error:" line, four for the entries of a list.

void PrintErrorInfo(const google::rpc::ErrorInfo& info, std::ostream& err) {
  err << "  reason: " << info.reason() << " (domain: " << info.domain() << ")\n";
  // The metadata is a map; sort it so the output is stable from run to run.
  std::vector<std::pair<std::string, std::string>> metadata(info.metadata().begin(),
                                                            info.metadata().end());
  std::sort(metadata.begin(), metadata.end());
  for (const auto& [key, value] : metadata) err << "    " << key << ": " << value << "\n";
}

void PrintBadRequest(const google::rpc::BadRequest& bad_request, std::ostream& err) {
  err << "  field violations:\n";
  for (const auto& violation : bad_request.field_violations()) {
    err << "    " << violation.field() << ": " << violation.description() << "\n";
  }
}

void PrintRetryInfo(const google::rpc::RetryInfo& retry, std::ostream& err) {
  const absl::Duration delay =
      absl::Seconds(retry.retry_delay().seconds()) + absl::Nanoseconds(retry.retry_delay().nanos());
  err << "  retry after: " << absl::FormatDuration(delay) << "\n";
}

void PrintQuotaFailure(const google::rpc::QuotaFailure& failure, std::ostream& err) {
  err << "  quota violations:\n";
  for (const auto& violation : failure.violations()) {
    err << "    " << violation.subject() << ": " << violation.description() << "\n";
  }
}

void PrintPreconditionFailure(const google::rpc::PreconditionFailure& failure, std::ostream& err) {
  err << "  precondition violations:\n";
  for (const auto& violation : failure.violations()) {
    err << "    " << violation.type() << " " << violation.subject() << ": "
        << violation.description() << "\n";
  }
}

void PrintResourceInfo(const google::rpc::ResourceInfo& info, std::ostream& err) {
  err << "  resource: " << info.resource_type() << " " << info.resource_name();
  if (!info.owner().empty()) err << " (owner: " << info.owner() << ")";
  if (!info.description().empty()) err << ": " << info.description();
  err << "\n";
}

// Any other detail: decoded with the generated pool if this binary knows the type (DebugInfo,
// Help, ...), else named with its size so the user knows something was there.
void PrintOtherDetail(absl::string_view type_url, const std::string& payload, std::ostream& err) {
  const absl::string_view type_name = type_url.substr(type_url.rfind('/') + 1);
  const google::protobuf::Descriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          std::string(type_name));
  if (descriptor != nullptr) {
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor);
    std::unique_ptr<google::protobuf::Message> message(prototype->New());
    if (message->ParseFromString(payload)) {
      err << "  " << type_name << ": " << message->ShortDebugString() << "\n";
      return;
    }
  }
  err << "  " << type_url << ": " << payload.size() << " bytes\n";
}

// Parses `payload` as T and prints it; false if `type_url` is not T's.
template <typename T>
bool TryPrint(absl::string_view type_url, const std::string& payload,
              void (*print)(const T&, std::ostream&), std::ostream& err) {
  T message;
  if (type_url != DetailTypeUrl(message) || !message.ParseFromString(payload)) return false;
  print(message, err);
  return true;
}

void PrintDetail(absl::string_view type_url, const std::string& payload, std::ostream& err) {
  if (TryPrint<google::rpc::ErrorInfo>(type_url, payload, PrintErrorInfo, err) ||
      TryPrint<google::rpc::BadRequest>(type_url, payload, PrintBadRequest, err) ||
      TryPrint<google::rpc::RetryInfo>(type_url, payload, PrintRetryInfo, err) ||
      TryPrint<google::rpc::QuotaFailure>(type_url, payload, PrintQuotaFailure, err) ||
      TryPrint<google::rpc::PreconditionFailure>(type_url, payload, PrintPreconditionFailure,
                                                 err) ||
      TryPrint<google::rpc::ResourceInfo>(type_url, payload, PrintResourceInfo, err)) {
    return;
  }
  PrintOtherDetail(type_url, payload, err);
}

// absl::Status::ForEachPayload deliberately varies its iteration order (it may reverse it,
// depending on a heap address), so the wire order is lost. Print details in one documented
// order instead: the machine-readable reason first, then what the caller should fix or wait
// for, then anything else by type URL.
std::vector<std::pair<std::string, std::string>> SortedDetails(const absl::Status& status) {
  static constexpr absl::string_view kOrder[] = {
      "type.googleapis.com/google.rpc.ErrorInfo",
      "type.googleapis.com/google.rpc.BadRequest",
      "type.googleapis.com/google.rpc.PreconditionFailure",
      "type.googleapis.com/google.rpc.QuotaFailure",
      "type.googleapis.com/google.rpc.RetryInfo",
      "type.googleapis.com/google.rpc.ResourceInfo",
  };
  const auto rank = [](absl::string_view type_url) {
    return std::find(std::begin(kOrder), std::end(kOrder), type_url) - std::begin(kOrder);
  };
  std::vector<std::pair<std::string, std::string>> details;
  status.ForEachPayload([&details](absl::string_view type_url, const absl::Cord& payload) {
    details.emplace_back(std::string(type_url), std::string(payload));
  });
  std::sort(details.begin(), details.end(), [&rank](const auto& a, const auto& b) {
    return std::make_pair(rank(a.first), a.first) < std::make_pair(rank(b.first), b.first);
  });
  return details;
}

// One detail as a JSON object. Printing it as an Any lets protobuf's JSON printer pick the
// field names, "@type" and the escaping.
std::string DetailToJson(absl::string_view type_url, const std::string& payload) {
  google::protobuf::Any any;
  any.set_type_url(std::string(type_url));
  any.set_value(payload);
  std::string json;
  if (google::protobuf::util::MessageToJsonString(any, &json).ok()) return json;
  // Unknown type (or a payload that does not parse): keep it, opaque, rather than drop it.
  return absl::StrCat(R"({"@type":)", JsonQuote(type_url), R"(,"value":)",
                      JsonQuote(absl::Base64Escape(payload)), "}");
}

}  // namespace

int ExitCodeForStatus(const absl::Status& status) { return static_cast<int>(status.code()); }

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  return google::protobuf::util::TimeUtil::ToString(timestamp);
}

std::string MessageToJson(const google::protobuf::Message& message) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json).ok()) {
    // Only an unresolvable Any can fail, and the public API has none; say so rather than
    // print half an object.
    return R"({"error":"response could not be printed as JSON"})";
  }
  return json;
}

void PrintStatusText(const absl::Status& status, absl::string_view upstream_request_id,
                     std::ostream& err) {
  err << "error: " << StatusCodeName(status.code()) << ": " << status.message() << "\n";
  for (const auto& [type_url, payload] : SortedDetails(status)) {
    PrintDetail(type_url, payload, err);
  }
  if (!upstream_request_id.empty()) err << "upstream_request_id: " << upstream_request_id << "\n";
}

std::string StatusToJson(const absl::Status& status, absl::string_view upstream_request_id) {
  // Assembled by hand rather than printed from a google.protobuf.Struct because a Struct's
  // keys come out in hash-map order; every piece is still escaped by the JSON printer.
  std::string json =
      absl::StrCat(R"({"code":)", JsonQuote(StatusCodeName(status.code())), R"(,"message":)",
                   JsonQuote(status.message()), R"(,"details":[)");
  const char* separator = "";
  for (const auto& [type_url, payload] : SortedDetails(status)) {
    absl::StrAppend(&json, separator, DetailToJson(type_url, payload));
    separator = ",";
  }
  absl::StrAppend(&json, "]");
  if (!upstream_request_id.empty()) {
    absl::StrAppend(&json, R"(,"upstreamRequestId":)", JsonQuote(upstream_request_id));
  }
  absl::StrAppend(&json, "}");
  return json;
}

}  // namespace otaverify
