// RecordCipher: encryption at rest of record names, metadata and payloads
// (docs/architecture.md §6).
//
// Scheme: each of the three fields is a pkg/crypto Keyring envelope (AES-256-GCM) under the key
// HKDF(KEK[kid], info = "space:<space_id>"): one key per space, derived from the shard's primary
// KEK; the envelope names the KEK id, so rotating the primary keeps old rows readable while the
// old KEK stays listed. The associated data binds every ciphertext to its place:
//   "coffer.vault.record.v1|<field>|<space_id>|<record_id>|<version>"
// so a ciphertext copied to another field, record, space or revision fails to open (DATA_LOSS).
//
// The same keys seal opaque page tokens, so tokens reveal nothing (they hold names) and cannot
// be forged or reused with another space or filter.
//
// Lifecycle: borrows a Keyring that must outlive it. Threading: immutable, thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "pkg/crypto/keyring.h"
#include "services/vault/domain/record.h"
#include "services/vault/repository/record_repository.h"

namespace coffer::vault::service {

// The HKDF info of a space's key ("space:<space_id>"): records, page tokens and file content
// (file_service.h) of one space are all sealed under it.
std::string SpaceKeyContext(const std::string& space_id);

class RecordCipher {
 public:
  explicit RecordCipher(const crypto::Keyring& keyring) : keyring_(keyring) {}

  // Encrypts a revision for storage. A purged revision gets no ciphertexts.
  absl::StatusOr<repository::StoredRevision> Seal(const domain::Revision& revision) const;
  // Decrypts a stored revision. DATA_LOSS when a ciphertext was altered or moved;
  // FAILED_PRECONDITION when its KEK is no longer configured.
  absl::StatusOr<domain::Revision> Open(const repository::StoredRevision& stored) const;
  // Open without the content: only the fields stored in clear (ids, type, stamp, flags, times).
  static domain::Revision ClearFields(const repository::StoredRevision& stored);

  // Seals `plaintext` into an opaque URL-safe token bound to the space and `purpose`.
  absl::StatusOr<std::string> SealToken(const std::string& space_id, const std::string& purpose,
                                        const std::string& plaintext) const;
  // Opens a token from SealToken; INVALID_ARGUMENT "page_token: ..." when it is not one for this
  // space and purpose.
  absl::StatusOr<std::string> OpenToken(const std::string& space_id, const std::string& purpose,
                                        const std::string& token) const;

  const std::string& primary_kid() const { return keyring_.primary_kid(); }

 private:
  const crypto::Keyring& keyring_;
};

}  // namespace coffer::vault::service
