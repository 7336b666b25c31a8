-- Signing-key pre-publication: a rotated key is published in the JWKS at `created_at` and signs
-- only from `activates_at` on, so verifiers can learn it before the first token names it.
-- Every replica reads the same stored time, so all switch at the same instant.
-- NULL means "at creation": the rows written before this migration, and rows inserted by older
-- binaries during a rolling upgrade (they sign with a new key at once, as they always did).
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz;
