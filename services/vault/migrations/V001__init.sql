-- Vault schema of one shard: spaces and their members, records (heads and conflict siblings),
-- the kept history of every record, and the outbox the sync relay publishes to Kafka.
--
-- Record names, metadata and payloads are AES-256-GCM envelopes (pkg/crypto Keyring) under a key
-- derived per space from the shard's KEK; `key_id` names the KEK. Nothing secret is stored in
-- plaintext. Every revision carries its causal stamp: version (what clients use for
-- check-and-set), version vector (jsonb {shard: counter}), HLC (48-bit ms << 16 | logical) and
-- origin shard (DESIGN.md section 3). Times are Unix milliseconds (bigint), so replicated state
-- compares byte for byte across shards.

CREATE TABLE spaces (
  id            uuid PRIMARY KEY,
  personal      boolean NOT NULL,
  name          text NOT NULL,
  owner_id      text NOT NULL,  -- token subject of the creator
  created_at_ms bigint NOT NULL
);
-- One personal space per user (its id is derived from the subject, see domain/ids.h).
CREATE UNIQUE INDEX spaces_one_personal_per_owner ON spaces (owner_id) WHERE personal;

CREATE TABLE space_members (
  space_id     uuid NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
  user_id      text NOT NULL,
  role         text NOT NULL CHECK (role IN ('reader', 'writer', 'admin', 'owner')),
  joined_at_ms bigint NOT NULL,
  PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_members_by_user ON space_members (user_id);

-- Orders local changes for the change feed (Sync cursors); bumped by every write of a record.
CREATE SEQUENCE record_change_seq;

-- The head revision of every record: of all concurrent revisions, the greatest (hlc, origin).
CREATE TABLE records (
  record_id     uuid PRIMARY KEY,
  space_id      uuid NOT NULL REFERENCES spaces (id),
  type          text NOT NULL,
  version       bigint NOT NULL CHECK (version > 0),
  vector        jsonb NOT NULL,
  hlc           bigint NOT NULL,
  origin_shard  text NOT NULL,
  deleted       boolean NOT NULL,
  purged        boolean NOT NULL,      -- content-less tombstone left by PurgeRecord
  key_id        text,                  -- KEK id of the envelopes; NULL when purged
  name_ct       bytea,
  metadata_ct   bytea,
  payload_ct    bytea,
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  sibling_count integer NOT NULL DEFAULT 0,
  -- Internal check-and-set token: bumped whenever the head or the sibling set changes, so a
  -- write computed from one state never overwrites another (a merge may add a sibling without
  -- changing the head's version).
  state_seq     bigint NOT NULL DEFAULT 1,
  change_seq    bigint NOT NULL DEFAULT nextval('record_change_seq'),
  CHECK (purged = (name_ct IS NULL)),
  CHECK (NOT purged OR deleted)
);
CREATE INDEX records_by_space ON records (space_id, record_id);
CREATE INDEX records_by_space_change ON records (space_id, change_seq);

-- Conflict siblings: concurrent revisions that are not the head. Any local write resolves them.
CREATE TABLE record_siblings (
  record_id      uuid NOT NULL REFERENCES records (record_id) ON DELETE CASCADE,
  origin_shard   text NOT NULL,
  origin_counter bigint NOT NULL,  -- vector[origin_shard]: identifies the revision
  space_id       uuid NOT NULL,
  type           text NOT NULL,
  version        bigint NOT NULL,
  vector         jsonb NOT NULL,
  hlc            bigint NOT NULL,
  deleted        boolean NOT NULL,
  purged         boolean NOT NULL,
  key_id         text,
  name_ct        bytea,
  metadata_ct    bytea,
  payload_ct     bytea,
  created_at_ms  bigint NOT NULL,
  updated_at_ms  bigint NOT NULL,
  PRIMARY KEY (record_id, origin_shard, origin_counter)
);

-- Every kept revision of every record (bounded per record by the retention setting).
CREATE TABLE record_history (
  record_id      uuid NOT NULL,
  origin_shard   text NOT NULL,
  origin_counter bigint NOT NULL,
  space_id       uuid NOT NULL,
  type           text NOT NULL,
  version        bigint NOT NULL,
  vector         jsonb NOT NULL,
  hlc            bigint NOT NULL,
  deleted        boolean NOT NULL,
  purged         boolean NOT NULL,
  key_id         text,
  name_ct        bytea,
  metadata_ct    bytea,
  payload_ct     bytea,
  created_at_ms  bigint NOT NULL,
  updated_at_ms  bigint NOT NULL,
  PRIMARY KEY (record_id, origin_shard, origin_counter)
);
CREATE INDEX record_history_by_version ON record_history (record_id, version DESC, hlc DESC);

-- Local writes waiting for the relay (sync/): the full revision state, encrypted as stored, so
-- an event can be built even after retention dropped the revision from history. Written in the
-- same statement as the record; NOTIFY wakes the relay and Watch streams.
CREATE TABLE outbox (
  id             bigserial PRIMARY KEY,
  record_id      uuid NOT NULL,
  origin_shard   text NOT NULL,
  origin_counter bigint NOT NULL,
  space_id       uuid NOT NULL,
  type           text NOT NULL,
  version        bigint NOT NULL,
  vector         jsonb NOT NULL,
  hlc            bigint NOT NULL,
  deleted        boolean NOT NULL,
  purged         boolean NOT NULL,
  key_id         text,
  name_ct        bytea,
  metadata_ct    bytea,
  payload_ct     bytea,
  created_at_ms  bigint NOT NULL,
  updated_at_ms  bigint NOT NULL,
  enqueued_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('coffer_vault_changes', NEW.space_id::text);
  RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();
