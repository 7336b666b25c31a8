#include "services/vault/service/record_cipher.h"

#include "pkg/crypto/encoding.h"
#include "pkg/status/status.h"

namespace coffer::vault::service {
namespace {

std::string Aad(std::string_view field, const std::string& space_id, const std::string& record_id,
                int64_t version) {
  return "coffer.vault.record.v1|" + std::string(field) + "|" + space_id + "|" + record_id + "|" +
         std::to_string(version);
}

}  // namespace

std::string SpaceKeyContext(const std::string& space_id) { return "space:" + space_id; }

absl::StatusOr<repository::StoredRevision> RecordCipher::Seal(
    const domain::Revision& revision) const {
  repository::StoredRevision s;
  s.space_id = revision.space_id;
  s.record_id = revision.record_id;
  s.type = revision.type;
  s.stamp = revision.stamp;
  s.deleted = revision.deleted;
  s.purged = revision.purged;
  s.created_at_ms = revision.created_at_ms;
  s.updated_at_ms = revision.updated_at_ms;
  if (revision.purged) return s;
  const std::string context = SpaceKeyContext(revision.space_id);
  const int64_t v = revision.stamp.version;
  s.key_id = keyring_.primary_kid();
  COFFER_ASSIGN_OR_RETURN(s.name_ct,
                          crypto::SealWithKeyring(keyring_, context, revision.content.name,
                                                  Aad("name", s.space_id, s.record_id, v)));
  COFFER_ASSIGN_OR_RETURN(
      s.metadata_ct,
      crypto::SealWithKeyring(keyring_, context, domain::EncodeMetadata(revision.content.metadata),
                              Aad("metadata", s.space_id, s.record_id, v)));
  COFFER_ASSIGN_OR_RETURN(
      s.payload_ct,
      crypto::SealWithKeyring(keyring_, context, domain::EncodePayload(revision.content.payload),
                              Aad("payload", s.space_id, s.record_id, v)));
  return s;
}

domain::Revision RecordCipher::ClearFields(const repository::StoredRevision& stored) {
  domain::Revision r;
  r.space_id = stored.space_id;
  r.record_id = stored.record_id;
  r.type = stored.type;
  r.stamp = stored.stamp;
  r.deleted = stored.deleted;
  r.purged = stored.purged;
  r.created_at_ms = stored.created_at_ms;
  r.updated_at_ms = stored.updated_at_ms;
  return r;
}

absl::StatusOr<domain::Revision> RecordCipher::Open(
    const repository::StoredRevision& stored) const {
  domain::Revision r = ClearFields(stored);
  if (stored.purged) return r;
  const std::string context = SpaceKeyContext(stored.space_id);
  const int64_t v = stored.stamp.version;
  COFFER_ASSIGN_OR_RETURN(r.content.name,
                          crypto::OpenWithKeyring(keyring_, context, stored.name_ct,
                                                  Aad("name", r.space_id, r.record_id, v)));
  COFFER_ASSIGN_OR_RETURN(std::string metadata,
                          crypto::OpenWithKeyring(keyring_, context, stored.metadata_ct,
                                                  Aad("metadata", r.space_id, r.record_id, v)));
  COFFER_ASSIGN_OR_RETURN(r.content.metadata, domain::DecodeMetadata(metadata));
  COFFER_ASSIGN_OR_RETURN(std::string payload,
                          crypto::OpenWithKeyring(keyring_, context, stored.payload_ct,
                                                  Aad("payload", r.space_id, r.record_id, v)));
  COFFER_ASSIGN_OR_RETURN(r.content.payload, domain::DecodePayload(stored.type, payload));
  return r;
}

absl::StatusOr<std::string> RecordCipher::SealToken(const std::string& space_id,
                                                    const std::string& purpose,
                                                    const std::string& plaintext) const {
  COFFER_ASSIGN_OR_RETURN(std::string sealed,
                          crypto::SealWithKeyring(keyring_, SpaceKeyContext(space_id), plaintext,
                                                  "coffer.vault.token.v1|" + purpose));
  return crypto::Base64UrlEncode(sealed);
}

absl::StatusOr<std::string> RecordCipher::OpenToken(const std::string& space_id,
                                                    const std::string& purpose,
                                                    const std::string& token) const {
  auto sealed = crypto::Base64UrlDecode(token);
  if (!sealed.ok()) return absl::InvalidArgumentError("page_token: malformed");
  auto plain = crypto::OpenWithKeyring(keyring_, SpaceKeyContext(space_id), *sealed,
                                       "coffer.vault.token.v1|" + purpose);
  if (!plain.ok()) {
    return absl::InvalidArgumentError("page_token: not a token of this request");
  }
  return *std::move(plain);
}

}  // namespace coffer::vault::service
