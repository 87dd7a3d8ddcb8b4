#include "client/cli_flags.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace otaverify {
namespace {

absl::Status FlagError(absl::string_view name, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", problem));
}

const CliFlagSpec* FindSpec(absl::Span<const CliFlagSpec> specs, absl::string_view name) {
  for (const CliFlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

absl::StatusOr<bool> ParseBool(absl::string_view text) {
  // The spellings people type; absl::SimpleAtob would also take "yes"/"y"/"1", which invites
  // typos like "--need_push=no-thanks" to be half-accepted elsewhere.
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true") return true;
  if (lower == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat("expected true or false, got \"", text, "\""));
}

absl::StatusOr<CliFlagValue> ParseValue(const CliFlagSpec& spec, absl::string_view text) {
  switch (spec.type) {
    case CliFlagType::kString:
      return CliFlagValue(std::string(text));
    case CliFlagType::kBool: {
      absl::StatusOr<bool> value = ParseBool(text);
      if (!value.ok()) return FlagError(spec.name, value.status().message());
      return CliFlagValue(*value);
    }
    case CliFlagType::kInt32: {
      int32_t value = 0;
      if (!absl::SimpleAtoi(text, &value)) {
        return FlagError(spec.name, absl::StrCat("expected a 32-bit integer, got \"", text, "\""));
      }
      return CliFlagValue(value);
    }
    case CliFlagType::kRefused:
      break;
    case CliFlagType::kDuration: {
      absl::Duration value;
      if (!absl::ParseDuration(text, &value)) {
        return FlagError(spec.name,
                         absl::StrCat("expected a duration like 10s or 500ms, got \"", text, "\""));
      }
      return CliFlagValue(value);
    }
  }
  return FlagError(spec.name, "unsupported flag type");
}

}  // namespace

absl::StatusOr<CliFlags> ParseCliFlags(absl::Span<const CliFlagSpec> specs,
                                       absl::Span<const std::string> args) {
  CliFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const absl::string_view arg = args[i];
    if (!absl::StartsWith(arg, "--") || arg == "--") {
      flags.positional_.emplace_back(arg);
      continue;
    }
    const absl::string_view body = arg.substr(2);
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    const CliFlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) return FlagError(name, "unknown flag");
    // Before looking at the value, so that neither "--name=VALUE" nor "--name VALUE" can
    // end up in a message (the value may be a secret).
    if (spec->type == CliFlagType::kRefused) return FlagError(name, spec->help);

    absl::string_view text;
    if (eq != absl::string_view::npos) {
      text = body.substr(eq + 1);
    } else if (spec->type == CliFlagType::kBool) {
      text = "true";
    } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "--")) {
      text = args[++i];
    } else {
      return FlagError(name, "missing value");
    }

    absl::StatusOr<CliFlagValue> value = ParseValue(*spec, text);
    if (!value.ok()) return value.status();
    std::vector<CliFlagValue>& slot = flags.values_[std::string(name)];
    if (!slot.empty() && !spec->repeated) return FlagError(name, "given more than once");
    slot.push_back(*std::move(value));
  }

  for (const CliFlagSpec& spec : specs) {
    if (spec.default_value.empty() || flags.Has(spec.name)) continue;
    absl::StatusOr<CliFlagValue> value = ParseValue(spec, spec.default_value);
    if (!value.ok())
      return absl::InternalError(absl::StrCat("bad default: ", value.status().message()));
    flags.values_[std::string(spec.name)].push_back(*std::move(value));
  }
  return flags;
}

bool WantsHelp(absl::Span<const CliFlagSpec> specs, absl::Span<const std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "--help=true") return true;
    // Skip the value of "--name value" so that `--device -h` names a device, as in the parser.
    if (!absl::StartsWith(arg, "--") || absl::StrContains(arg, '=')) continue;
    const CliFlagSpec* spec = FindSpec(specs, arg.substr(2));
    if (spec != nullptr && spec->type != CliFlagType::kBool && i + 1 < args.size() &&
        !absl::StartsWith(args[i + 1], "--")) {
      ++i;
    }
  }
  return false;
}

std::string FormatCliFlagsHelp(absl::Span<const CliFlagSpec> specs) {
  std::string out;
  for (const CliFlagSpec& spec : specs) {
    std::string left = absl::StrCat("  --", spec.name);
    if (spec.type == CliFlagType::kBool) {
      absl::StrAppend(&left, "[=true|false]");
    } else if (spec.type == CliFlagType::kRefused) {
      // Listed so the reason is discoverable; there is no value to describe.
    } else {
      absl::StrAppend(&left, " ", spec.value_name.empty() ? "VALUE" : spec.value_name);
    }
    if (left.size() < 34) left.resize(34, ' ');
    absl::StrAppend(&out, left, " ", spec.help);
    if (spec.repeated) absl::StrAppend(&out, " (repeatable)");
    if (!spec.default_value.empty()) absl::StrAppend(&out, " [default: ", spec.default_value, "]");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace otaverify
