// How the CLI shows records: type names, the field list of each payload, secret masking, the
// JSON form scripts parse, table rows, and the two-sided view of an edit conflict.
//
// Secrets (passwords, card number and CVV, OTP seeds, sealed ciphertext) are hidden unless the
// caller passes reveal = true: tables show a mask ("********", "**** 1234"), JSON shows null.
// Pure functions on protobuf values; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/output.h"
#include "coffer/vault/v1/records.pb.h"

namespace coffer::cli {

namespace v1 = ::coffer::vault::v1;

// CLI names of record types: credential, text, card, otp, instrument, file-ref, sealed.
std::string RecordTypeName(v1::RecordType type);
// Parses a CLI type name (also accepts "file" for file-ref); nullopt when unknown.
std::optional<v1::RecordType> ParseRecordType(const std::string& name);
// Every CLI type name, in documentation order.
const std::vector<std::string>& RecordTypeNames();

// One field of a payload, e.g. credential "password".
struct PayloadField {
  std::string name;
  nlohmann::json value;  // string or number, as scripts should read it
  bool secret = false;   // hidden unless revealed
  std::string mask;      // what a table shows instead of a hidden secret
};

// The fields of the record's payload in a fixed order (empty for a purged tombstone).
std::vector<PayloadField> PayloadFields(const v1::Record& record);

// Table/text form of a field value: the value itself, or its mask when secret and !reveal.
std::string FieldText(const PayloadField& field, bool reveal);

// Stable JSON form of a record. Keys: id, space_id, type, name, metadata, version, deleted,
// origin_shard, sibling_count, create_time, update_time (RFC 3339, "" when unset), vector
// (shard -> counter) and payload (field -> value; hidden secrets are null).
nlohmann::json RecordToJson(const v1::Record& record, bool reveal);

// Columns of `coffer ls` / `search` / `trash`: ID TYPE NAME VERSION UPDATED FLAGS.
Table RecordListTable();
// Adds `record` as one row of a RecordListTable().
void AddRecordRow(Table& table, const v1::Record& record);

// `coffer get`: one "field: value" line per attribute, metadata as "meta.<key>".
KeyValueList RecordDetails(const v1::Record& record, bool reveal);

// A conflict between the revision the user tried to write and the server's current one:
// columns FIELD, YOUR CHANGE, SERVER (vN), and "*" in a fourth column for fields that differ
// (secrets are compared, but shown masked unless reveal).
Table ConflictTable(const v1::Record& yours, const v1::Record& server, bool reveal);

// RFC 3339 UTC form of a timestamp, "" when unset.
std::string FormatTime(const google::protobuf::Timestamp& time);

}  // namespace coffer::cli
