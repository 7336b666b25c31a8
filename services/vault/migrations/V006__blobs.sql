-- File content (FileService, proto/coffer/vault/v1/files.proto): immutable blobs of one space,
-- stored in chunks of at most 256 KiB.
--
-- A blob's id is content-addressed inside its space: the first 16 bytes of
-- HMAC-SHA-256(key derived for "blob-id:<space_id>", sha256_hex), formatted as a UUID. The same
-- content uploaded twice to one space is one blob; the SHA-256 itself is not stored in
-- plaintext (it would let anyone who reads the database confirm a guessed file), only inside
-- `info_ct`, the AES-256-GCM envelope (pkg/crypto Keyring, key derived per space like records)
-- of the file name, content type and SHA-256. Every chunk is its own envelope whose associated
-- data binds it to its space, blob and index, so chunks cannot be swapped or moved.
--
-- A blob row is written in one transaction with all of its chunks, so a blob exists only
-- complete: an upload that fails its size or SHA-256 check, or breaks off, stores nothing.
CREATE TABLE blobs (
  blob_id       uuid PRIMARY KEY,
  space_id      uuid NOT NULL REFERENCES spaces (id),
  size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
  chunk_count   integer NOT NULL CHECK (chunk_count >= 0),
  key_id        text NOT NULL,
  info_ct       bytea NOT NULL,
  created_at_ms bigint NOT NULL
);
CREATE INDEX blobs_by_space ON blobs (space_id);

CREATE TABLE blob_chunks (
  blob_id     uuid NOT NULL REFERENCES blobs (blob_id) ON DELETE CASCADE,
  chunk_index integer NOT NULL CHECK (chunk_index >= 0),
  chunk_ct    bytea NOT NULL,
  PRIMARY KEY (blob_id, chunk_index)
);
