-- V009: a record is identified by (space_id, record_id) everywhere (DESIGN.md §2): the same UUID
-- in two spaces is two unrelated records. Record ids are chosen by clients, so before this two
-- users could create one id in two spaces on two shards at the same moment, and each shard's
-- merge of the other's event failed (security audit C1). Every id was unique until now, so the
-- new keys hold for the existing rows and no data moves.

ALTER TABLE record_siblings DROP CONSTRAINT record_siblings_record_id_fkey;
ALTER TABLE record_siblings DROP CONSTRAINT record_siblings_pkey;
ALTER TABLE record_history DROP CONSTRAINT record_history_pkey;
ALTER TABLE records DROP CONSTRAINT records_pkey;

ALTER TABLE records ADD PRIMARY KEY (space_id, record_id);
DROP INDEX records_by_space;  -- the primary key's index serves it now
ALTER TABLE record_siblings ADD PRIMARY KEY (space_id, record_id, origin_shard, origin_counter);
ALTER TABLE record_siblings ADD FOREIGN KEY (space_id, record_id)
  REFERENCES records (space_id, record_id) ON DELETE CASCADE;
ALTER TABLE record_history ADD PRIMARY KEY (space_id, record_id, origin_shard, origin_counter);
DROP INDEX record_history_by_version;
CREATE INDEX record_history_by_version ON record_history (space_id, record_id, version DESC, hlc DESC);

-- The commit-time numbering of merged changes (V003/V005) finds its row by both keys.
CREATE OR REPLACE FUNCTION records_assign_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1684873540, hashtext(NEW.space_id::text));
  UPDATE records SET change_seq = nextval('record_change_seq')
    WHERE space_id = NEW.space_id AND record_id = NEW.record_id;
  RETURN NULL;
END;
$$;
