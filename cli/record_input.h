// Turning command-line input into records: the typed fields each record type accepts (the flags
// of `coffer add <type>` and `coffer edit`), their validation, and metadata "key=value" pairs.
//
// Secrets never come from command-line arguments (they would land in shell history and `ps`):
// fields marked secret are read by the command from stdin (`--<field>-stdin`) or an echo-free
// prompt, and then applied with ApplyField like any other value. Pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coffer/vault/v1/records.pb.h"

namespace coffer::cli {

namespace v1 = ::coffer::vault::v1;

// How a field's value reaches the CLI.
enum class FieldInput {
  kFlag,        // `--<flag> VALUE`
  kSecret,      // `--<flag>-stdin` (one line from stdin) or an echo-free prompt; never an argument
  kFile,        // `--<flag>-file PATH` ("-" = all of stdin); raw bytes
  kFlagOrFile,  // either `--<flag> VALUE` or `--<flag>-file PATH`
};

// One settable field of a record type.
struct FieldSpec {
  std::string name;  // field name, as PayloadFields and ApplyField use it ("blob_id")
  std::string flag;  // flag stem ("blob-id")
  FieldInput input;
  std::string help;
};

// The fields `coffer add <type>` accepts for `type`, in prompt order.
const std::vector<FieldSpec>& FieldSpecsFor(v1::RecordType type);

// The union of every type's fields, one entry per flag (for `coffer edit`, which learns the type
// only after reading the record).
std::vector<FieldSpec> AllFieldSpecs();

// Sets `field` of the record's payload (whose case must match record.type(); an unset payload is
// created) from its text form. INVALID_ARGUMENT when the field does not belong to the type or
// the value is malformed (e.g. a card expiry that is not MM/YYYY, digits that are not a number,
// an OTP secret that is not base32).
absl::Status ApplyField(v1::Record& record, const std::string& field, const std::string& value);

// Makes sure record.payload matches record.type() (an empty payload of the right case).
absl::Status EnsurePayload(v1::Record& record);

// Parses "key=value" (the value may contain '='); INVALID_ARGUMENT when there is no '=' or the
// key is empty.
absl::StatusOr<std::pair<std::string, std::string>> ParseMetaPair(const std::string& text);

// Applies `set` ("key=value" each) and then removes `unset` keys from record.metadata.
absl::Status ApplyMetadata(v1::Record& record, const std::vector<std::string>& set,
                           const std::vector<std::string>& unset);

// Parses a `ls --meta` filter: "key=value" (exact entry) or "key" (key present).
absl::StatusOr<std::pair<std::string, std::optional<std::string>>> ParseMetaFilter(
    const std::string& text);

// A new record of `type` named `name` with the given field values (field name -> text) and
// metadata pairs; the payload is set even when no field is given.
absl::StatusOr<v1::Record> BuildRecord(v1::RecordType type, const std::string& name,
                                       const std::map<std::string, std::string>& fields,
                                       const std::vector<std::string>& metadata);

}  // namespace coffer::cli
