#include "emulator/response.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/common/json.h"

namespace otaverify {
namespace emulator {
namespace {

constexpr char kJsonType[] = "application/json;charset=utf-8";
constexpr char kXmlType[] = "text/xml;charset=utf-8";
void AppendXmlText(absl::string_view s, std::string* out) {
  AppendSanitizedUtf8(s, out, [](unsigned char c, std::string* out) {
    switch (c) {
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      case '"':
        out->append("&quot;");
        break;
      case '\'':
        out->append("&apos;");
        break;
      default:
        // XML 1.0 cannot carry other control characters even escaped.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out->append(kUtf8Replacement);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  });
}

}  // namespace

Doc& Doc::Str(absl::string_view name, absl::string_view value) {
  entries_.push_back({std::string(name), Kind::kString, std::string(value), {}});
  return *this;
}

Doc& Doc::Bool(absl::string_view name, bool value) {
  entries_.push_back({std::string(name), Kind::kBool, value ? "true" : "false", {}});
  return *this;
}

Doc& Doc::Int(absl::string_view name, int64_t value) {
  entries_.push_back({std::string(name), Kind::kInt, absl::StrCat(value), {}});
  return *this;
}

Doc& Doc::Obj(absl::string_view name, Doc value) {
  entries_.push_back({std::string(name), Kind::kObject, "", std::move(value.entries_)});
  return *this;
}

Doc& Doc::Arr(absl::string_view name, std::vector<Doc> items) {
  Entry entry{std::string(name), Kind::kArray, "", {}};
  for (Doc& item : items) {
    entry.children.push_back({std::string(name), Kind::kObject, "", std::move(item.entries_)});
  }
  entries_.push_back(std::move(entry));
  return *this;
}

Doc& Doc::Merge(Doc other) {
  entries_.insert(entries_.end(), std::make_move_iterator(other.entries_.begin()),
                  std::make_move_iterator(other.entries_.end()));
  return *this;
}

void Doc::AppendJson(const std::vector<Entry>& entries, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const Entry& e : entries) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonQuoted(e.name, out);
    out->push_back(':');
    switch (e.kind) {
      case Kind::kString:
        AppendJsonQuoted(e.scalar, out);
        break;
      case Kind::kBool:
      case Kind::kInt:
        out->append(e.scalar);
        break;
      case Kind::kObject:
        AppendJson(e.children, out);
        break;
      case Kind::kArray:
        out->push_back('[');
        for (size_t i = 0; i < e.children.size(); ++i) {
          if (i > 0) out->push_back(',');
          AppendJson(e.children[i].children, out);
        }
        out->push_back(']');
        break;
    }
  }
  out->push_back('}');
}

void Doc::AppendXml(const std::vector<Entry>& entries, std::string* out) {
  for (const Entry& e : entries) {
    if (e.kind == Kind::kArray) {
      AppendXml(e.children, out);  // the items, each an element named like the list
      continue;
    }
    // Names come from the emulator (or from stats keys); escape anyway so odd input cannot
    // break the document.
    out->push_back('<');
    AppendXmlText(e.name, out);
    out->push_back('>');
    if (e.kind == Kind::kObject) {
      AppendXml(e.children, out);
    } else {
      AppendXmlText(e.scalar, out);
    }
    out->append("</");
    AppendXmlText(e.name, out);
    out->push_back('>');
  }
}

std::string Doc::ToJson() const {
  std::string out;
  AppendJson(entries_, &out);
  return out;
}

std::string Doc::ToXml(absl::string_view root) const {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  absl::StrAppend(&out, "<", root, ">");
  AppendXml(entries_, &out);
  absl::StrAppend(&out, "</", root, ">");
  return out;
}

std::string RecommendUrl(absl::string_view code) {
  return absl::StrCat("https://api.aliyun.com/troubleshoot?q=", code);
}

Body RenderError(const ApiError& error, absl::string_view request_id, absl::string_view host,
                 absl::string_view action, bool json) {
  Doc doc;
  std::string root;
  if (error.business()) {
    doc.Str("RequestId", request_id)
        .Bool("Success", false)
        .Str("Code", error.code)
        .Str("ErrorMessage", error.message);
    root = absl::StrCat(action.empty() ? "Unknown" : action, "Response");
  } else {
    doc.Str("RequestId", request_id)
        .Str("HostId", host)
        .Str("Code", error.code)
        .Str("Message", error.message)
        .Str("Recommend", RecommendUrl(error.code));
    root = "Error";
  }
  if (json) return Body{kJsonType, doc.ToJson()};
  return Body{kXmlType, doc.ToXml(root)};
}

Body RenderSuccessFields(Doc fields, absl::string_view request_id, absl::string_view action,
                         bool json) {
  Doc doc;
  doc.Str("RequestId", request_id).Bool("Success", true);
  doc.Merge(std::move(fields));
  if (json) return Body{kJsonType, doc.ToJson()};
  return Body{kXmlType, doc.ToXml(absl::StrCat(action, "Response"))};
}

Body RenderSuccess(Doc data, absl::string_view request_id, absl::string_view action, bool json) {
  Doc doc;
  doc.Str("RequestId", request_id).Bool("Success", true).Obj("Data", std::move(data));
  if (json) return Body{kJsonType, doc.ToJson()};
  return Body{kXmlType, doc.ToXml(absl::StrCat(action, "Response"))};
}

}  // namespace emulator
}  // namespace otaverify
