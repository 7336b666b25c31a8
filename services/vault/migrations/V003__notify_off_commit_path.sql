-- Take NOTIFY off the write path (docs/benchmarks.md, Put analysis). A transaction that issued
-- NOTIFY takes PostgreSQL's database-wide notify-queue lock at pre-commit and holds it until its
-- commit record is flushed, so with the V001 outbox trigger and the V002 change_seq trigger every
-- write and merge committed one at a time and none could share a WAL flush (group commit).
--
-- The vault process now wakes its own relay and Watch streams in memory after each commit and
-- notifies the other replicas of the shard from one background session, coalescing the changed
-- space ids over a few milliseconds into one autocommit `SELECT pg_notify(...)` on the same
-- channel (coffer_vault_changes) with the same payload (the space id as text); see
-- sync/change_notifier.h. The relay and the change feed also poll, so a lost notification only
-- delays.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- The V002 function also took ONE shard-wide advisory xact lock in its commit-time step, held
-- (like the notify lock) until the commit record is flushed: with NOTIFY gone that lock alone
-- still serialized every commit. Change feeds are read per space (space_id, change_seq > cursor),
-- so commit order only has to hold within a space: the lock is now per space (two-int4 key:
-- class 1684873540, hashtext of the space id; a hash collision only serializes two spaces). A
-- snapshot that sees value N of space S still sees every smaller value of S. Local writes touch one
-- space; a merge batch may lock several spaces in row order, while everyone else holds at most
-- one at a time, so no lock cycle forms except between two concurrent merge batches (only one
-- consumer leads per shard), which PostgreSQL's deadlock detector would break (the batch retries).
CREATE OR REPLACE FUNCTION records_assign_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1684873540, hashtext(NEW.space_id::text));
  UPDATE records SET change_seq = nextval('record_change_seq') WHERE record_id = NEW.record_id;
  RETURN NULL;
END;
$$;
