#include "cli/record_input.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "cli/record_view.h"

namespace coffer::cli {
namespace {

absl::StatusOr<uint64_t> ParseUint(const std::string& field, const std::string& text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return absl::InvalidArgumentError(field + " must be a non-negative whole number, got \"" +
                                      text + "\"");
  }
  return value;
}

absl::StatusOr<uint32_t> ParseUint32(const std::string& field, const std::string& text) {
  auto value = ParseUint(field, text);
  if (!value.ok()) return value.status();
  if (*value > UINT32_MAX) return absl::InvalidArgumentError(field + " is too large");
  return static_cast<uint32_t>(*value);
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Authenticator apps show seeds in groups ("JBSW Y3DP ..."), in any case; the server wants
// RFC 4648 base32.
absl::StatusOr<std::string> NormalizeBase32(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == ' ' || c == '-') continue;
    char upper = static_cast<char>(std::toupper(c));
    if (!((upper >= 'A' && upper <= 'Z') || (upper >= '2' && upper <= '7') || upper == '=')) {
      return absl::InvalidArgumentError(
          "the OTP secret must be base32 (letters A-Z and digits 2-7)");
    }
    out += upper;
  }
  if (out.empty()) return absl::InvalidArgumentError("the OTP secret is empty");
  return out;
}

absl::Status ParseExpiry(const std::string& text, v1::Card& card) {
  auto slash = text.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError("card expiry must be MM/YYYY (or MM/YY), got \"" + text +
                                      "\"");
  }
  auto month = ParseUint32("expiry month", text.substr(0, slash));
  auto year = ParseUint32("expiry year", text.substr(slash + 1));
  if (!month.ok()) return month.status();
  if (!year.ok()) return year.status();
  if (*month < 1 || *month > 12) return absl::InvalidArgumentError("expiry month must be 1-12");
  uint32_t full_year = *year < 100 ? 2000 + *year : *year;
  if (full_year < 1970 || full_year > 9999) {
    return absl::InvalidArgumentError("expiry year must have four digits");
  }
  card.set_expiry_month(*month);
  card.set_expiry_year(full_year);
  return absl::OkStatus();
}

absl::Status NotForType(const std::string& field, v1::RecordType type) {
  return absl::InvalidArgumentError("field " + field + " does not apply to a " +
                                    RecordTypeName(type) + " record");
}

absl::Status ApplyCredential(v1::Credential& c, const std::string& field,
                             const std::string& value) {
  if (field == "login") {
    c.set_login(value);
  } else if (field == "password") {
    c.set_password(value);
  } else if (field == "url") {
    c.set_url(value);
  } else if (field == "notes") {
    c.set_notes(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_CREDENTIAL);
  }
  return absl::OkStatus();
}

absl::Status ApplyCard(v1::Card& c, const std::string& field, const std::string& value) {
  if (field == "number") {
    std::string digits;
    for (char ch : value) {
      if (ch == ' ' || ch == '-') continue;
      if (!std::isdigit(static_cast<unsigned char>(ch))) {
        return absl::InvalidArgumentError("the card number must contain digits only");
      }
      digits += ch;
    }
    c.set_number(digits);
  } else if (field == "holder") {
    c.set_holder(value);
  } else if (field == "expiry") {
    return ParseExpiry(value, c);
  } else if (field == "cvv") {
    c.set_cvv(value);
  } else if (field == "bank") {
    c.set_bank(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_CARD);
  }
  return absl::OkStatus();
}

absl::Status ApplyOtp(v1::Otp& o, const std::string& field, const std::string& value) {
  if (field == "secret") {
    auto secret = NormalizeBase32(value);
    if (!secret.ok()) return secret.status();
    o.set_secret_base32(*secret);
  } else if (field == "kind") {
    std::string kind = Lower(value);
    if (kind == "totp") {
      o.set_kind(v1::OTP_KIND_TOTP);
    } else if (kind == "hotp") {
      o.set_kind(v1::OTP_KIND_HOTP);
    } else {
      return absl::InvalidArgumentError("OTP kind must be totp or hotp");
    }
  } else if (field == "algorithm") {
    std::string alg = Lower(value);
    if (alg == "sha1") {
      o.set_algorithm(v1::OTP_ALGORITHM_SHA1);
    } else if (alg == "sha256") {
      o.set_algorithm(v1::OTP_ALGORITHM_SHA256);
    } else if (alg == "sha512") {
      o.set_algorithm(v1::OTP_ALGORITHM_SHA512);
    } else {
      return absl::InvalidArgumentError("OTP algorithm must be sha1, sha256 or sha512");
    }
  } else if (field == "digits") {
    auto digits = ParseUint32("digits", value);
    if (!digits.ok()) return digits.status();
    if (*digits < 6 || *digits > 8) return absl::InvalidArgumentError("digits must be 6, 7 or 8");
    o.set_digits(*digits);
  } else if (field == "period") {
    auto period = ParseUint32("period", value);
    if (!period.ok()) return period.status();
    if (*period < 1 || *period > 300) {
      return absl::InvalidArgumentError("period must be 1 to 300 seconds");
    }
    o.set_period_seconds(*period);
  } else if (field == "counter") {
    auto counter = ParseUint("counter", value);
    if (!counter.ok()) return counter.status();
    o.set_counter(*counter);
  } else if (field == "issuer") {
    o.set_issuer(value);
  } else if (field == "account") {
    o.set_account(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_OTP);
  }
  return absl::OkStatus();
}

absl::Status ApplyInstrument(v1::Instrument& i, const std::string& field,
                             const std::string& value) {
  if (field == "isin") {
    i.set_isin(value);
  } else if (field == "ticker") {
    i.set_ticker(value);
  } else if (field == "exchange") {
    i.set_exchange(value);
  } else if (field == "currency") {
    i.set_currency(value);
  } else if (field == "kind") {
    i.set_kind(value);
  } else if (field == "note") {
    i.set_note(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_INSTRUMENT);
  }
  return absl::OkStatus();
}

absl::Status ApplyFile(v1::FileRef& f, const std::string& field, const std::string& value) {
  if (field == "blob_id") {
    f.set_blob_id(value);
  } else if (field == "size_bytes") {
    auto size = ParseUint("size", value);
    if (!size.ok()) return size.status();
    f.set_size_bytes(*size);
  } else if (field == "sha256") {
    std::string hex = Lower(value);
    if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return absl::InvalidArgumentError("sha256 must be 64 hex characters");
    }
    f.set_sha256_hex(hex);
  } else if (field == "content_type") {
    f.set_content_type(value);
  } else if (field == "file_name") {
    f.set_file_name(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_FILE);
  }
  return absl::OkStatus();
}

absl::Status ApplySealed(v1::Sealed& s, const std::string& field, const std::string& value) {
  if (field == "ciphertext") {
    s.set_ciphertext(value);
  } else if (field == "key_id") {
    s.set_key_id(value);
  } else if (field == "algorithm") {
    s.set_algorithm(value);
  } else {
    return NotForType(field, v1::RECORD_TYPE_SEALED);
  }
  return absl::OkStatus();
}

FieldSpec Spec(std::string name, FieldInput input, std::string help) {
  std::string flag = name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return FieldSpec{std::move(name), std::move(flag), input, std::move(help)};
}

}  // namespace

const std::vector<FieldSpec>& FieldSpecsFor(v1::RecordType type) {
  using I = FieldInput;
  static const auto* specs = new std::map<v1::RecordType, std::vector<FieldSpec>>{
      {v1::RECORD_TYPE_CREDENTIAL,
       {Spec("login", I::kFlag, "User name or e-mail used to log in"),
        Spec("password", I::kSecret, "The password"),
        Spec("url", I::kFlag, "Where the credential is used (URL or host)"),
        Spec("notes", I::kFlag, "Free-text notes")}},
      {v1::RECORD_TYPE_TEXT, {Spec("text", I::kFlagOrFile, "The note's text")}},
      {v1::RECORD_TYPE_CARD,
       {Spec("number", I::kSecret, "Card number (digits)"),
        Spec("holder", I::kFlag, "Card holder's name"),
        Spec("expiry", I::kFlag, "Expiry date, MM/YYYY"),
        Spec("cvv", I::kSecret, "Card verification code"), Spec("bank", I::kFlag, "Issuing bank")}},
      {v1::RECORD_TYPE_OTP,
       {Spec("secret", I::kSecret, "Shared secret, base32"),
        Spec("kind", I::kFlag, "totp (default) or hotp"),
        Spec("algorithm", I::kFlag, "sha1 (default), sha256 or sha512"),
        Spec("digits", I::kFlag, "Code length, 6 (default) to 8"),
        Spec("period", I::kFlag, "TOTP time step in seconds (default 30)"),
        Spec("counter", I::kFlag, "HOTP counter of the next code"),
        Spec("issuer", I::kFlag, "Service that issued the seed"),
        Spec("account", I::kFlag, "Account at that service")}},
      {v1::RECORD_TYPE_INSTRUMENT,
       {Spec("isin", I::kFlag, "ISIN (12 characters)"), Spec("ticker", I::kFlag, "Ticker symbol"),
        Spec("exchange", I::kFlag, "Exchange code, e.g. XNAS"),
        Spec("currency", I::kFlag, "Trading currency, e.g. USD"),
        Spec("kind", I::kFlag, "stock, bond, etf, future, ..."),
        Spec("note", I::kFlag, "Free-text note")}},
      {v1::RECORD_TYPE_FILE,
       {Spec("blob_id", I::kFlag, "Blob id returned by the upload"),
        Spec("size_bytes", I::kFlag, "Content size in bytes"),
        Spec("sha256", I::kFlag, "SHA-256 of the content, hex"),
        Spec("content_type", I::kFlag, "MIME type"),
        Spec("file_name", I::kFlag, "File name shown to users")}},
      {v1::RECORD_TYPE_SEALED,
       {Spec("ciphertext", I::kFile, "Client-side encrypted bytes"),
        Spec("key_id", I::kFlag, "Your name for the decryption key"),
        Spec("algorithm", I::kFlag, "Your name for the cipher")}},
  };
  static const std::vector<FieldSpec> kNone;
  auto it = specs->find(type);
  return it == specs->end() ? kNone : it->second;
}

std::vector<FieldSpec> AllFieldSpecs() {
  std::vector<FieldSpec> all;
  std::set<std::string> seen;
  for (const auto& name : RecordTypeNames()) {
    for (const auto& spec : FieldSpecsFor(*ParseRecordType(name))) {
      if (seen.insert(spec.flag).second) all.push_back(spec);
    }
  }
  return all;
}

absl::Status EnsurePayload(v1::Record& record) {
  switch (record.type()) {
    case v1::RECORD_TYPE_CREDENTIAL:
      record.mutable_credential();
      break;
    case v1::RECORD_TYPE_TEXT:
      record.mutable_text();
      break;
    case v1::RECORD_TYPE_CARD:
      record.mutable_card();
      break;
    case v1::RECORD_TYPE_OTP:
      record.mutable_otp();
      break;
    case v1::RECORD_TYPE_INSTRUMENT:
      record.mutable_instrument();
      break;
    case v1::RECORD_TYPE_FILE:
      record.mutable_file();
      break;
    case v1::RECORD_TYPE_SEALED:
      record.mutable_sealed();
      break;
    default:
      return absl::InvalidArgumentError("the record has no type");
  }
  return absl::OkStatus();
}

absl::Status ApplyField(v1::Record& record, const std::string& field, const std::string& value) {
  if (absl::Status st = EnsurePayload(record); !st.ok()) return st;
  switch (record.type()) {
    case v1::RECORD_TYPE_CREDENTIAL:
      return ApplyCredential(*record.mutable_credential(), field, value);
    case v1::RECORD_TYPE_TEXT:
      if (field != "text") return NotForType(field, record.type());
      record.mutable_text()->set_text(value);
      return absl::OkStatus();
    case v1::RECORD_TYPE_CARD:
      return ApplyCard(*record.mutable_card(), field, value);
    case v1::RECORD_TYPE_OTP:
      return ApplyOtp(*record.mutable_otp(), field, value);
    case v1::RECORD_TYPE_INSTRUMENT:
      return ApplyInstrument(*record.mutable_instrument(), field, value);
    case v1::RECORD_TYPE_FILE:
      return ApplyFile(*record.mutable_file(), field, value);
    case v1::RECORD_TYPE_SEALED:
      return ApplySealed(*record.mutable_sealed(), field, value);
    default:
      return absl::InvalidArgumentError("the record has no type");
  }
}

absl::StatusOr<std::pair<std::string, std::string>> ParseMetaPair(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError("metadata must be key=value, got \"" + text + "\"");
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

absl::Status ApplyMetadata(v1::Record& record, const std::vector<std::string>& set,
                           const std::vector<std::string>& unset) {
  for (const auto& pair_text : set) {
    auto pair = ParseMetaPair(pair_text);
    if (!pair.ok()) return pair.status();
    (*record.mutable_metadata())[pair->first] = pair->second;
  }
  for (const auto& key : unset) record.mutable_metadata()->erase(key);
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::optional<std::string>>> ParseMetaFilter(
    const std::string& text) {
  auto eq = text.find('=');
  if (eq == 0 || text.empty()) {
    return absl::InvalidArgumentError("--meta must be key or key=value, got \"" + text + "\"");
  }
  if (eq == std::string::npos) return std::make_pair(text, std::optional<std::string>());
  return std::make_pair(text.substr(0, eq), std::optional<std::string>(text.substr(eq + 1)));
}

absl::StatusOr<v1::Record> BuildRecord(v1::RecordType type, const std::string& name,
                                       const std::map<std::string, std::string>& fields,
                                       const std::vector<std::string>& metadata) {
  if (name.empty()) return absl::InvalidArgumentError("a record needs a name (--name)");
  v1::Record record;
  record.set_type(type);
  record.set_name(name);
  if (absl::Status st = EnsurePayload(record); !st.ok()) return st;
  for (const auto& [field, value] : fields) {
    if (absl::Status st = ApplyField(record, field, value); !st.ok()) return st;
  }
  if (absl::Status st = ApplyMetadata(record, metadata, {}); !st.ok()) return st;
  return record;
}

}  // namespace coffer::cli
