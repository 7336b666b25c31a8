-- V008: the dead-letter table (DESIGN.md §4, README "Dead letters"). No single event may stop a
-- partition or the relay: an event this shard cannot apply for a reason that retrying will not
-- cure (it cannot be decoded, its schema is newer than this build, its MAC is missing or wrong,
-- its merge failed for good) is stored here with the error, in the same transaction that moves
-- the consumer past it ('in'); an outbox row Kafka refuses for good (too large, invalid) is moved
-- here from the outbox ('out'). Operators list, re-apply or discard them (AdminService).
--
-- The raw event is kept exactly as read (key, value, MAC headers), so re-applying it after a fix
-- runs the same checks again: a forged event stays quarantined.
CREATE TABLE dead_letters (
  id            bigserial PRIMARY KEY,
  direction     text NOT NULL CHECK (direction IN ('in', 'out')),
  -- Why it is here: decode | schema | mac | merge (in), too_large | unreadable (out).
  kind          text NOT NULL,
  error         text NOT NULL,
  kafka_partition integer,           -- where an incoming event was read (or an outgoing one goes)
  kafka_offset  bigint,              -- NULL for outgoing events
  origin_shard  text NOT NULL DEFAULT '',  -- as the event claims it (unauthenticated for 'mac')
  event_key     bytea,
  event_value   bytea NOT NULL,
  mac_key_id    text NOT NULL DEFAULT '',
  mac           bytea,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_by_kind ON dead_letters (direction, kind, id);
