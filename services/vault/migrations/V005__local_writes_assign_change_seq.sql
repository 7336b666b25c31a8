-- Local writes assign their own commit-ordered change_seq (docs/benchmarks.md, "What limits each
-- miss now", Put). Until V004 every write's deferred trigger re-updated the head row at commit,
-- so each local write left two row versions of `records` (with their index entries) and ran a
-- PL/pgSQL function.
--
-- The order contract is unchanged: within a space, change_seq values are taken and committed in
-- one order, because whoever takes a value holds the space's advisory xact lock (class
-- 1684873540, hashtext of the space id, as V003) from before taking it until its commit is
-- visible. Local writes (sql.h kInsertRecord, kReplaceHead, kPurgeRecord: one autocommit
-- statement each) now take that lock inside the statement and set change_seq = nextval() after
-- it. Only rows those statements did not number still go through the trigger:
--   * inserted rows whose change_seq is the new default 0 (merges and snapshot imports);
--   * updates of state_seq that left change_seq alone (merges).
-- A constraint trigger's WHEN is evaluated right after the row operation, not at commit.
--
-- Lock order: a local write locks its space before the record's row (the lock is taken while its
-- UPDATE computes the new row, before the row is locked), and a merge batch locks every space of
-- the batch, in key order, before its first row lock (PgSyncRepository::ApplyBatch), so local
-- writes and merges never wait for each other in a cycle.
ALTER TABLE records ALTER COLUMN change_seq SET DEFAULT 0;

DROP TRIGGER records_change_seq ON records;

CREATE CONSTRAINT TRIGGER records_change_seq_insert AFTER INSERT ON records
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.change_seq = 0)
  EXECUTE FUNCTION records_assign_change_seq();

CREATE CONSTRAINT TRIGGER records_change_seq_update AFTER UPDATE OF state_seq ON records
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.change_seq = OLD.change_seq)
  EXECUTE FUNCTION records_assign_change_seq();
