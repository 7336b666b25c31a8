-- V010: shared spaces whose membership converges across shards (DESIGN.md §2, §3a).
--
-- Every shard holds every space (all shards read every partition), so spaces, members and
-- invitations replicate like records, as registers: each row keeps the stamp (hlc, origin) of
-- the write that set it, and a received write replaces it only when its stamp is greater
-- ("last writer wins", compared with the C collation on every shard alike), which is
-- commutative, associative and idempotent. A space has two registers on its `spaces` row: its
-- info (sealed name, deleted) and its owner; each member is one register (`removed` included,
-- so a removal is not undone by an older grant); each invitation is one register.
--
-- A shared space's name is stored sealed (`name_ct`, under the space's key, like record names);
-- `name` keeps 'Personal' for personal spaces and is empty for shared ones.

ALTER TABLE spaces
  ADD COLUMN deleted      boolean NOT NULL DEFAULT false,
  ADD COLUMN name_ct      text,
  ADD COLUMN info_hlc     bigint NOT NULL DEFAULT 0,
  ADD COLUMN info_origin  text NOT NULL DEFAULT '',
  ADD COLUMN owner_hlc    bigint NOT NULL DEFAULT 0,
  ADD COLUMN owner_origin text NOT NULL DEFAULT '';

ALTER TABLE space_members DROP CONSTRAINT space_members_role_check;
ALTER TABLE space_members
  ADD CONSTRAINT space_members_role_check
    CHECK (role IN ('reader', 'writer', 'admin', 'owner', 'removed')),
  ADD COLUMN hlc    bigint NOT NULL DEFAULT 0,
  ADD COLUMN origin text NOT NULL DEFAULT '';

CREATE TABLE space_invitations (
  id            uuid PRIMARY KEY,
  space_id      uuid NOT NULL,
  inviter_id    text NOT NULL,
  invitee_id    text NOT NULL,
  role          text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
  state         text NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'revoked')),
  created_at_ms bigint NOT NULL,
  expires_at_ms bigint NOT NULL,
  hlc           bigint NOT NULL,
  origin        text NOT NULL
);
CREATE INDEX space_invitations_pending_by_invitee ON space_invitations (invitee_id)
  WHERE state = 'pending';
CREATE INDEX space_invitations_by_space ON space_invitations (space_id);

-- Local register writes waiting for the relay, like `outbox` for records: written in the same
-- transaction as the register, deleted once Kafka acknowledged the event. (No trigger: the
-- process wakes its relay after the commit, see V003.)
CREATE TABLE space_outbox (
  id          bigserial PRIMARY KEY,
  space_id    uuid NOT NULL,
  change      jsonb NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT now()
);
