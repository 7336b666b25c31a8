#include "services/vault/transport/proto_mapping.h"

#include "services/vault/domain/hlc.h"
#include "services/vault/domain/validation.h"
#include "services/vault/wire/record_type.h"

namespace coffer::vault::transport {
namespace {

google::protobuf::Timestamp FromMs(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
  return t;
}

domain::OtpAlgorithm AlgorithmFromProto(v1::OtpAlgorithm a) {
  switch (a) {
    case v1::OTP_ALGORITHM_UNSPECIFIED:
    case v1::OTP_ALGORITHM_SHA1:
      return domain::OtpAlgorithm::kSha1;
    case v1::OTP_ALGORITHM_SHA256:
      return domain::OtpAlgorithm::kSha256;
    case v1::OTP_ALGORITHM_SHA512:
      return domain::OtpAlgorithm::kSha512;
    default:
      return static_cast<domain::OtpAlgorithm>(0);  // rejected by validation, naming the field
  }
}

domain::OtpKind KindFromProto(v1::OtpKind k) {
  switch (k) {
    case v1::OTP_KIND_UNSPECIFIED:
    case v1::OTP_KIND_TOTP:
      return domain::OtpKind::kTotp;
    case v1::OTP_KIND_HOTP:
      return domain::OtpKind::kHotp;
    default:
      return static_cast<domain::OtpKind>(0);
  }
}

int ClampInt(uint64_t v) { return v > 1'000'000 ? 1'000'000 : static_cast<int>(v); }

}  // namespace

absl::StatusOr<domain::RecordContent> ContentFromProto(const v1::Record& record) {
  domain::RecordContent c;
  c.name = record.name();
  c.metadata.insert(record.metadata().begin(), record.metadata().end());
  switch (record.payload_case()) {
    case v1::Record::kCredential: {
      const auto& p = record.credential();
      c.payload = domain::CredentialPayload{p.login(), p.password(), p.url(), p.notes()};
      break;
    }
    case v1::Record::kText:
      c.payload = domain::TextPayload{record.text().text()};
      break;
    case v1::Record::kCard: {
      const auto& p = record.card();
      c.payload = domain::CardPayload{
          p.number(), p.holder(), ClampInt(p.expiry_month()), ClampInt(p.expiry_year()),
          p.cvv(),    p.bank()};
      break;
    }
    case v1::Record::kOtp: {
      const auto& p = record.otp();
      c.payload = domain::OtpPayload{KindFromProto(p.kind()),
                                     p.secret_base32(),
                                     AlgorithmFromProto(p.algorithm()),
                                     ClampInt(p.digits()),
                                     ClampInt(p.period_seconds()),
                                     p.counter(),
                                     p.issuer(),
                                     p.account()};
      break;
    }
    case v1::Record::kInstrument: {
      const auto& p = record.instrument();
      c.payload = domain::InstrumentPayload{p.isin(),     p.ticker(), p.exchange(),
                                            p.currency(), p.kind(),   p.note()};
      break;
    }
    case v1::Record::kFile: {
      const auto& p = record.file();
      c.payload = domain::FilePayload{p.blob_id(), p.size_bytes(), p.sha256_hex(), p.content_type(),
                                      p.file_name()};
      break;
    }
    case v1::Record::kSealed: {
      const auto& p = record.sealed();
      c.payload = domain::SealedPayload{p.ciphertext(), p.key_id(), p.algorithm()};
      break;
    }
    case v1::Record::PAYLOAD_NOT_SET:
      return domain::FieldError("record.payload", "required (one of the typed payloads)");
  }
  std::optional<domain::RecordType> type = wire::TypeFromProto(record.type());
  if (!type) return domain::FieldError("record.type", "required");
  if (*type != domain::TypeOf(c.payload)) {
    return domain::FieldError("record.type", "does not match the payload");
  }
  return c;
}

void RevisionToProto(const domain::Revision& r, v1::Record* out) {
  out->Clear();
  out->set_id(r.record_id);
  out->set_space_id(r.space_id);
  out->set_type(wire::TypeToProto(r.type));
  out->set_version(static_cast<uint64_t>(r.stamp.version));
  for (const auto& [shard, counter] : r.stamp.vector.counters()) {
    (*out->mutable_vector()->mutable_counters())[shard] = counter;
  }
  out->mutable_hlc()->set_physical_ms(domain::HlcTimestamp::PhysicalMs(r.stamp.hlc));
  out->mutable_hlc()->set_logical(
      static_cast<uint32_t>(domain::HlcTimestamp::Logical(r.stamp.hlc)));
  out->set_origin_shard(r.stamp.origin_shard);
  out->set_deleted(r.deleted);
  *out->mutable_create_time() = FromMs(r.created_at_ms);
  *out->mutable_update_time() = FromMs(r.updated_at_ms);
  out->set_sibling_count(static_cast<uint32_t>(r.sibling_count));
  if (r.purged) return;
  out->set_name(r.content.name);
  out->mutable_metadata()->insert(r.content.metadata.begin(), r.content.metadata.end());
  std::visit(
      [out](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, domain::CredentialPayload>) {
          auto* m = out->mutable_credential();
          m->set_login(p.login);
          m->set_password(p.password);
          m->set_url(p.url);
          m->set_notes(p.notes);
        } else if constexpr (std::is_same_v<T, domain::TextPayload>) {
          out->mutable_text()->set_text(p.text);
        } else if constexpr (std::is_same_v<T, domain::CardPayload>) {
          auto* m = out->mutable_card();
          m->set_number(p.number);
          m->set_holder(p.holder);
          m->set_expiry_month(static_cast<uint32_t>(p.expiry_month));
          m->set_expiry_year(static_cast<uint32_t>(p.expiry_year));
          m->set_cvv(p.cvv);
          m->set_bank(p.bank);
        } else if constexpr (std::is_same_v<T, domain::OtpPayload>) {
          auto* m = out->mutable_otp();
          m->set_secret_base32(p.secret);
          m->set_kind(p.kind == domain::OtpKind::kHotp ? v1::OTP_KIND_HOTP : v1::OTP_KIND_TOTP);
          m->set_algorithm(static_cast<v1::OtpAlgorithm>(p.algorithm));
          m->set_digits(static_cast<uint32_t>(p.digits));
          m->set_period_seconds(static_cast<uint32_t>(p.period_seconds));
          m->set_counter(p.counter);
          m->set_issuer(p.issuer);
          m->set_account(p.account);
        } else if constexpr (std::is_same_v<T, domain::InstrumentPayload>) {
          auto* m = out->mutable_instrument();
          m->set_isin(p.isin);
          m->set_ticker(p.ticker);
          m->set_exchange(p.exchange);
          m->set_currency(p.currency);
          m->set_kind(p.kind);
          m->set_note(p.note);
        } else if constexpr (std::is_same_v<T, domain::FilePayload>) {
          auto* m = out->mutable_file();
          m->set_blob_id(p.blob_id);
          m->set_size_bytes(p.size);
          m->set_sha256_hex(p.sha256_hex);
          m->set_content_type(p.content_type);
          m->set_file_name(p.file_name);
        } else {
          auto* m = out->mutable_sealed();
          m->set_ciphertext(p.ciphertext);
          m->set_key_id(p.key_id);
          m->set_algorithm(p.algorithm);
        }
      },
      r.content.payload);
}

void SpaceToProto(const service::SpaceInfo& space, v1::Space* out) {
  out->set_id(space.id);
  out->set_owner_id(space.owner_id);
  out->set_name(space.name);
  out->set_personal(space.personal);
  out->set_role(static_cast<v1::Role>(space.role));  // same numbering
  out->set_member_count(static_cast<uint32_t>(space.member_count));
  *out->mutable_create_time() = FromMs(space.created_at_ms);
}

absl::StatusOr<service::UploadMetadata> UploadMetadataFromProto(const v1::UploadFileMetadata& m) {
  service::UploadMetadata meta;
  meta.space_id = m.space_id();
  meta.record_id = m.record_id();
  if (m.expected_version() > static_cast<uint64_t>(INT64_MAX) ||
      m.size_bytes() > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError("metadata: expected_version or size_bytes out of range");
  }
  meta.expected_version = static_cast<int64_t>(m.expected_version());
  meta.file_name = m.file_name();
  meta.content_type = m.content_type();
  meta.size_bytes = static_cast<int64_t>(m.size_bytes());
  meta.sha256_hex = m.sha256_hex();
  return meta;
}

void FileInfoToProto(const service::FileInfo& info, v1::FileInfo* out) {
  out->set_blob_id(info.blob_id);
  out->set_space_id(info.space_id);
  out->set_size_bytes(static_cast<uint64_t>(info.size_bytes));
  out->set_sha256_hex(info.sha256_hex);
  out->set_content_type(info.content_type);
  out->set_file_name(info.file_name);
  out->set_chunk_count(static_cast<uint32_t>(info.chunk_count));
  *out->mutable_create_time() = FromMs(info.created_at_ms);
}

}  // namespace coffer::vault::transport
