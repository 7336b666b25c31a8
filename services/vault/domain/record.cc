#include "services/vault/domain/record.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace coffer::vault::domain {
namespace {

using nlohmann::json;

constexpr std::pair<RecordType, std::string_view> kTypeNames[] = {
    {RecordType::kCredential, "credential"},
    {RecordType::kText, "text"},
    {RecordType::kCard, "card"},
    {RecordType::kOtp, "otp"},
    {RecordType::kInstrument, "instrument"},
    {RecordType::kFile, "file"},
    {RecordType::kSealed, "sealed"},
};

std::string Base64Encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

absl::StatusOr<std::string> Base64Decode(const std::string& in) {
  if (in.size() % 4 != 0) return absl::DataLossError("stored payload: bad base64");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return absl::DataLossError("stored payload: bad base64");
  // EVP_DecodeBlock counts padding as zero bytes; trim them.
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct Encoder {
  json operator()(const CredentialPayload& p) const {
    return {{"login", p.login}, {"password", p.password}, {"url", p.url}, {"notes", p.notes}};
  }
  json operator()(const TextPayload& p) const { return {{"text", p.text}}; }
  json operator()(const CardPayload& p) const {
    return {{"number", p.number},           {"holder", p.holder}, {"expiry_month", p.expiry_month},
            {"expiry_year", p.expiry_year}, {"cvv", p.cvv},       {"bank", p.bank}};
  }
  json operator()(const OtpPayload& p) const {
    return {{"kind", static_cast<int>(p.kind)},
            {"secret", p.secret},
            {"algorithm", static_cast<int>(p.algorithm)},
            {"digits", p.digits},
            {"period_seconds", p.period_seconds},
            {"counter", p.counter},
            {"issuer", p.issuer},
            {"account", p.account}};
  }
  json operator()(const InstrumentPayload& p) const {
    return {{"isin", p.isin},         {"ticker", p.ticker}, {"exchange", p.exchange},
            {"currency", p.currency}, {"kind", p.kind},     {"note", p.note}};
  }
  json operator()(const FilePayload& p) const {
    return {{"blob_id", p.blob_id},
            {"size", p.size},
            {"sha256", p.sha256_hex},
            {"content_type", p.content_type},
            {"file_name", p.file_name}};
  }
  json operator()(const SealedPayload& p) const {
    return {{"ciphertext", Base64Encode(p.ciphertext)},
            {"key_id", p.key_id},
            {"algorithm", p.algorithm}};
  }
};

template <typename T>
T Field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return T{};
  return it->get<T>();
}

absl::StatusOr<Payload> DecodeJson(RecordType type, const json& j) {
  switch (type) {
    case RecordType::kCredential:
      return CredentialPayload{Field<std::string>(j, "login"), Field<std::string>(j, "password"),
                               Field<std::string>(j, "url"), Field<std::string>(j, "notes")};
    case RecordType::kText:
      return TextPayload{Field<std::string>(j, "text")};
    case RecordType::kCard:
      return CardPayload{Field<std::string>(j, "number"), Field<std::string>(j, "holder"),
                         Field<int>(j, "expiry_month"),   Field<int>(j, "expiry_year"),
                         Field<std::string>(j, "cvv"),    Field<std::string>(j, "bank")};
    case RecordType::kOtp:
      return OtpPayload{static_cast<OtpKind>(Field<int>(j, "kind")),
                        Field<std::string>(j, "secret"),
                        static_cast<OtpAlgorithm>(Field<int>(j, "algorithm")),
                        Field<int>(j, "digits"),
                        Field<int>(j, "period_seconds"),
                        Field<uint64_t>(j, "counter"),
                        Field<std::string>(j, "issuer"),
                        Field<std::string>(j, "account")};
    case RecordType::kInstrument:
      return InstrumentPayload{Field<std::string>(j, "isin"),     Field<std::string>(j, "ticker"),
                               Field<std::string>(j, "exchange"), Field<std::string>(j, "currency"),
                               Field<std::string>(j, "kind"),     Field<std::string>(j, "note")};
    case RecordType::kFile:
      return FilePayload{Field<std::string>(j, "blob_id"), Field<uint64_t>(j, "size"),
                         Field<std::string>(j, "sha256"), Field<std::string>(j, "content_type"),
                         Field<std::string>(j, "file_name")};
    case RecordType::kSealed: {
      auto bytes = Base64Decode(Field<std::string>(j, "ciphertext"));
      if (!bytes.ok()) return bytes.status();
      return SealedPayload{*std::move(bytes), Field<std::string>(j, "key_id"),
                           Field<std::string>(j, "algorithm")};
    }
  }
  return absl::DataLossError("stored payload: unknown record type");
}

}  // namespace

std::string_view RecordTypeName(RecordType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "unknown";
}

std::optional<RecordType> RecordTypeFromName(std::string_view name) {
  for (const auto& [t, n] : kTypeNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

RecordType TypeOf(const Payload& payload) {
  // The variant's alternatives are declared in RecordType order, starting at 1.
  return static_cast<RecordType>(payload.index() + 1);
}

std::string EncodeMetadata(const std::map<std::string, std::string>& metadata) {
  return json(metadata).dump();
}

absl::StatusOr<std::map<std::string, std::string>> DecodeMetadata(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::DataLossError("stored metadata: not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return absl::DataLossError("stored metadata: value is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string EncodePayload(const Payload& payload) { return std::visit(Encoder{}, payload).dump(); }

absl::StatusOr<Payload> DecodePayload(RecordType type, const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::DataLossError("stored payload: not a JSON object");
  try {
    return DecodeJson(type, j);
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("stored payload: ") + e.what());
  }
}

std::vector<std::string_view> SearchableTexts(const RecordContent& content) {
  std::vector<std::string_view> out{content.name};
  for (const auto& [k, v] : content.metadata) {
    out.push_back(k);
    out.push_back(v);
  }
  std::visit(
      [&out](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, CredentialPayload>) {
          out.insert(out.end(), {p.login, p.url});
        } else if constexpr (std::is_same_v<T, CardPayload>) {
          out.insert(out.end(), {p.holder, p.bank});
        } else if constexpr (std::is_same_v<T, OtpPayload>) {
          out.insert(out.end(), {p.issuer, p.account});
        } else if constexpr (std::is_same_v<T, InstrumentPayload>) {
          out.insert(out.end(), {p.isin, p.ticker, p.exchange, p.currency, p.kind, p.note});
        } else if constexpr (std::is_same_v<T, FilePayload>) {
          out.insert(out.end(), {p.file_name, p.content_type});
        }
        // Text bodies and sealed bytes are secret: never searched.
      },
      content.payload);
  return out;
}

std::string LowerAscii(std::string_view s) { return Lower(s); }

bool MatchesSearch(const RecordContent& content, const std::string& query) {
  const std::string needle = Lower(query);
  for (std::string_view hay : SearchableTexts(content)) {
    if (Lower(hay).find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace coffer::vault::domain
