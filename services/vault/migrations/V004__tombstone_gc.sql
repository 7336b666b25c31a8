-- Tombstone garbage collection behind a horizon every registered shard has passed (DESIGN.md §3
-- rule 4; services/vault/README.md "Tombstone GC").
--
-- Every shard's relay publishes progress markers to every partition of the change topic: the
-- consumer offsets of that shard that are "settled" (every local write the shard had committed
-- when it had applied that far has been acknowledged by Kafka before the marker). The consumer
-- stores the latest settled offset per (shard, partition) here when it reads a marker, in the
-- same transaction as the batch. Registered shards = the shards with a row here.
CREATE TABLE shard_progress (
  shard_id       text NOT NULL,
  partition      integer NOT NULL,
  settled_offset bigint NOT NULL CHECK (settled_offset >= 0),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shard_id, partition)
);

-- Where this shard saw the event of a record's tombstone head (set only while the record is a
-- purged head without siblings whose own event has been read from the topic): the record may be
-- dropped once every registered shard's settled offset on gc_partition is above gc_offset.
ALTER TABLE records ADD COLUMN gc_partition integer;
ALTER TABLE records ADD COLUMN gc_offset bigint;
CREATE INDEX records_gc_candidates ON records (gc_partition, gc_offset) WHERE gc_offset IS NOT NULL;

-- Per space, the greatest change_seq of a record that was garbage-collected: a Sync cursor below
-- it may have missed a tombstone, so it is answered with reset EXPIRED.
CREATE TABLE space_gc_floor (
  space_id   uuid PRIMARY KEY,
  change_seq bigint NOT NULL
);

-- Bootstrap from a peer's snapshot (README "Bootstrap"): events of this shard's own origin below
-- merge_own_until are merged instead of skipped, because a re-bootstrapped shard (same id, new
-- database) does not hold its own earlier writes that the peer had not applied yet.
ALTER TABLE consumer_offsets ADD COLUMN merge_own_until bigint NOT NULL DEFAULT 0;
