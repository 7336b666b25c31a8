#include "cli/record_view.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <set>

#include "pkg/crypto/encoding.h"

namespace coffer::cli {
namespace {

constexpr char kMask[] = "********";

PayloadField Field(std::string name, nlohmann::json value) {
  return PayloadField{std::move(name), std::move(value), false, ""};
}

PayloadField Secret(std::string name, nlohmann::json value, std::string mask = kMask) {
  return PayloadField{std::move(name), std::move(value), true, std::move(mask)};
}

std::string CardMask(const std::string& number) {
  if (number.empty()) return "";
  if (number.size() <= 4) return kMask;
  return "**** " + number.substr(number.size() - 4);
}

std::string SecretMask(const std::string& value) { return value.empty() ? "" : kMask; }

std::string OtpKindName(v1::OtpKind kind) { return kind == v1::OTP_KIND_HOTP ? "hotp" : "totp"; }

std::string OtpAlgorithmName(v1::OtpAlgorithm algorithm) {
  switch (algorithm) {
    case v1::OTP_ALGORITHM_SHA256:
      return "sha256";
    case v1::OTP_ALGORITHM_SHA512:
      return "sha512";
    default:
      return "sha1";
  }
}

std::string JsonText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

}  // namespace

const std::vector<std::string>& RecordTypeNames() {
  static const auto* names = new std::vector<std::string>{"credential", "text",     "card",  "otp",
                                                          "instrument", "file-ref", "sealed"};
  return *names;
}

std::string RecordTypeName(v1::RecordType type) {
  switch (type) {
    case v1::RECORD_TYPE_CREDENTIAL:
      return "credential";
    case v1::RECORD_TYPE_TEXT:
      return "text";
    case v1::RECORD_TYPE_CARD:
      return "card";
    case v1::RECORD_TYPE_OTP:
      return "otp";
    case v1::RECORD_TYPE_INSTRUMENT:
      return "instrument";
    case v1::RECORD_TYPE_FILE:
      return "file-ref";
    case v1::RECORD_TYPE_SEALED:
      return "sealed";
    default:
      return "unknown";
  }
}

std::optional<v1::RecordType> ParseRecordType(const std::string& name) {
  static const auto* types =
      new std::map<std::string, v1::RecordType>{{"credential", v1::RECORD_TYPE_CREDENTIAL},
                                                {"text", v1::RECORD_TYPE_TEXT},
                                                {"card", v1::RECORD_TYPE_CARD},
                                                {"otp", v1::RECORD_TYPE_OTP},
                                                {"instrument", v1::RECORD_TYPE_INSTRUMENT},
                                                {"file-ref", v1::RECORD_TYPE_FILE},
                                                {"file", v1::RECORD_TYPE_FILE},
                                                {"sealed", v1::RECORD_TYPE_SEALED}};
  auto it = types->find(name);
  if (it == types->end()) return std::nullopt;
  return it->second;
}

std::vector<PayloadField> PayloadFields(const v1::Record& record) {
  std::vector<PayloadField> fields;
  switch (record.payload_case()) {
    case v1::Record::kCredential: {
      const auto& c = record.credential();
      fields = {Field("login", c.login()),
                Secret("password", c.password(), SecretMask(c.password())), Field("url", c.url()),
                Field("notes", c.notes())};
      break;
    }
    case v1::Record::kText:
      fields = {Field("text", record.text().text())};
      break;
    case v1::Record::kCard: {
      const auto& c = record.card();
      fields = {Secret("number", c.number(), CardMask(c.number())),
                Field("holder", c.holder()),
                Field("expiry_month", c.expiry_month()),
                Field("expiry_year", c.expiry_year()),
                Secret("cvv", c.cvv(), SecretMask(c.cvv())),
                Field("bank", c.bank())};
      break;
    }
    case v1::Record::kOtp: {
      const auto& o = record.otp();
      fields = {Secret("secret", o.secret_base32(), SecretMask(o.secret_base32())),
                Field("kind", OtpKindName(o.kind())),
                Field("algorithm", OtpAlgorithmName(o.algorithm())),
                Field("digits", o.digits() == 0 ? 6u : o.digits()),
                Field("period", o.period_seconds() == 0 ? 30u : o.period_seconds()),
                Field("counter", o.counter()),
                Field("issuer", o.issuer()),
                Field("account", o.account())};
      break;
    }
    case v1::Record::kInstrument: {
      const auto& i = record.instrument();
      fields = {Field("isin", i.isin()),         Field("ticker", i.ticker()),
                Field("exchange", i.exchange()), Field("currency", i.currency()),
                Field("kind", i.kind()),         Field("note", i.note())};
      break;
    }
    case v1::Record::kFile: {
      const auto& f = record.file();
      fields = {Field("blob_id", f.blob_id()), Field("size_bytes", f.size_bytes()),
                Field("sha256", f.sha256_hex()), Field("content_type", f.content_type()),
                Field("file_name", f.file_name())};
      break;
    }
    case v1::Record::kSealed: {
      const auto& s = record.sealed();
      fields = {Secret("ciphertext", crypto::Base64Encode(s.ciphertext()),
                       "<" + std::to_string(s.ciphertext().size()) + " bytes>"),
                Field("key_id", s.key_id()), Field("algorithm", s.algorithm())};
      break;
    }
    case v1::Record::PAYLOAD_NOT_SET:
      break;
  }
  return fields;
}

std::string FieldText(const PayloadField& field, bool reveal) {
  if (field.secret && !reveal) return field.mask;
  return JsonText(field.value);
}

std::string FormatTime(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(time);
}

nlohmann::json RecordToJson(const v1::Record& record, bool reveal) {
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : record.metadata()) metadata[key] = value;
  nlohmann::json vector = nlohmann::json::object();
  for (const auto& [shard, counter] : record.vector().counters()) vector[shard] = counter;
  nlohmann::json payload = nlohmann::json::object();
  for (const auto& field : PayloadFields(record)) {
    payload[field.name] = field.secret && !reveal ? nlohmann::json(nullptr) : field.value;
  }
  return nlohmann::json{{"id", record.id()},
                        {"space_id", record.space_id()},
                        {"type", RecordTypeName(record.type())},
                        {"name", record.name()},
                        {"metadata", metadata},
                        {"version", record.version()},
                        {"deleted", record.deleted()},
                        {"origin_shard", record.origin_shard()},
                        {"sibling_count", record.sibling_count()},
                        {"create_time", FormatTime(record.create_time())},
                        {"update_time", FormatTime(record.update_time())},
                        {"vector", vector},
                        {"payload", payload}};
}

Table RecordListTable() { return Table({"ID", "TYPE", "NAME", "VERSION", "UPDATED", "FLAGS"}); }

void AddRecordRow(Table& table, const v1::Record& record) {
  std::string flags;
  if (record.deleted()) flags = "trash";
  if (record.sibling_count() > 0) {
    if (!flags.empty()) flags += ",";
    flags += "conflict(" + std::to_string(record.sibling_count()) + ")";
  }
  table.AddRow({record.id(), RecordTypeName(record.type()), record.name(),
                std::to_string(record.version()), FormatTime(record.update_time()), flags});
}

KeyValueList RecordDetails(const v1::Record& record, bool reveal) {
  KeyValueList list;
  list.Add("id", record.id());
  list.Add("type", RecordTypeName(record.type()));
  list.Add("name", record.name());
  list.Add("version", std::to_string(record.version()));
  if (record.deleted()) list.Add("deleted", "true (in trash)");
  if (record.sibling_count() > 0) {
    list.Add("conflicts", std::to_string(record.sibling_count()) + " (see `coffer conflicts`)");
  }
  list.Add("space", record.space_id());
  list.Add("created", FormatTime(record.create_time()));
  list.Add("updated", FormatTime(record.update_time()));
  std::map<std::string, std::string> sorted(record.metadata().begin(), record.metadata().end());
  for (const auto& [key, value] : sorted) list.Add("meta." + key, value);
  for (const auto& field : PayloadFields(record)) list.Add(field.name, FieldText(field, reveal));
  return list;
}

Table ConflictTable(const v1::Record& yours, const v1::Record& server, bool reveal) {
  Table table({"FIELD", "YOUR CHANGE", "SERVER (v" + std::to_string(server.version()) + ")", ""});
  auto row = [&](const std::string& name, const std::string& mine, const std::string& theirs,
                 bool differs) {
    table.AddRow({name, mine, theirs, differs ? "*" : ""});
  };
  row("type", RecordTypeName(yours.type()), RecordTypeName(server.type()),
      yours.type() != server.type());
  row("name", yours.name(), server.name(), yours.name() != server.name());

  std::set<std::string> keys;
  for (const auto& [key, value] : yours.metadata()) keys.insert(key);
  for (const auto& [key, value] : server.metadata()) keys.insert(key);
  for (const auto& key : keys) {
    auto mine = yours.metadata().find(key);
    auto theirs = server.metadata().find(key);
    std::string a = mine == yours.metadata().end() ? "" : mine->second;
    std::string b = theirs == server.metadata().end() ? "" : theirs->second;
    row("meta." + key, a, b, a != b);
  }

  std::vector<PayloadField> mine = PayloadFields(yours);
  std::vector<PayloadField> theirs = PayloadFields(server);
  std::vector<std::string> names;
  for (const auto& f : mine) names.push_back(f.name);
  for (const auto& f : theirs) {
    if (std::find(names.begin(), names.end(), f.name) == names.end()) names.push_back(f.name);
  }
  auto find = [](const std::vector<PayloadField>& fields, const std::string& name) {
    for (const auto& f : fields) {
      if (f.name == name) return std::optional<PayloadField>(f);
    }
    return std::optional<PayloadField>();
  };
  for (const auto& name : names) {
    auto a = find(mine, name);
    auto b = find(theirs, name);
    bool differs = !a || !b || a->value != b->value;
    row(name, a ? FieldText(*a, reveal) : "", b ? FieldText(*b, reveal) : "", differs);
  }
  return table;
}

}  // namespace coffer::cli
