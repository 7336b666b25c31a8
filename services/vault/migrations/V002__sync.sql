-- Shard sync (DESIGN.md sections 4 and 5): consumer positions, commit-ordered change sequence
-- for the client change feed, and records of spaces this shard has not seen yet.

-- Where this shard's Kafka consumer resumes, per partition of the change topic. Written in the
-- same transaction as the merges of the events before `next_offset`, so a crash never loses or
-- double-applies a position (and applying twice would be a no-op anyway).
CREATE TABLE consumer_offsets (
  partition   integer PRIMARY KEY,
  next_offset bigint NOT NULL CHECK (next_offset >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Events from other shards may carry records of a space created there and not yet here (a
-- personal space is created on its owner's first call, with the same id on every shard), so a
-- record no longer requires its space row.
ALTER TABLE records DROP CONSTRAINT records_space_id_fkey;

-- Commit-ordered change_seq. A sequence value taken during the write (the V001 default) is not
-- commit-ordered: a transaction holding value 5 may commit after one holding 6, and a reader that
-- already moved its cursor to 6 would skip 5 forever. So change_seq is (re)assigned by a
-- DEFERRED constraint trigger, i.e. while the transaction commits, under a transaction-level
-- advisory lock that serializes only that final step: values are taken in commit order, and the
-- lock is released only after the commit became visible, so any snapshot that sees value N also
-- sees every value below N. The trigger fires on INSERT and on every change of state_seq (every
-- local write and every merge bumps it) and also NOTIFYs the change channel, so Watch streams on
-- every replica wake up for local writes and merged events alike. Its own UPDATE touches only
-- change_seq and therefore does not fire it again.
CREATE FUNCTION records_assign_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7236540198431734517);
  UPDATE records SET change_seq = nextval('record_change_seq') WHERE record_id = NEW.record_id;
  PERFORM pg_notify('coffer_vault_changes', NEW.space_id::text);
  RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER records_change_seq AFTER INSERT OR UPDATE OF state_seq ON records
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION records_assign_change_seq();
