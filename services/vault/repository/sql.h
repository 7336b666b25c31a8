// Every SQL statement of the vault repositories, as named constants (STYLE.md: "SQL as named
// constants in sql.h"), so a reader sees the whole data access of the service in one file.
//
// Each write is ONE statement (data-modifying CTEs): head + siblings + history + outbox change
// together in one round trip (docs/architecture.md §9: one round trip per write).
//
// Revision parameters, shared by every statement that writes a revision ($1..$16):
//   $1 record_id, $2 origin_shard, $3 origin_counter, $4 space_id, $5 type, $6 version,
//   $7 vector (json text), $8 hlc, $9 deleted, $10 purged, $11 key_id ('' = NULL),
//   $12 name_ct, $13 metadata_ct, $14 payload_ct (binary; empty = NULL), $15 created_at_ms,
//   $16 updated_at_ms.
#pragma once

namespace coffer::vault::repository::sql {

// Columns of a revision row (records, record_siblings, record_history, outbox), in the order the
// row readers expect. `origin_counter` is not a column of `records` (it is vector[origin_shard]).
#define COFFER_VAULT_REVISION_COLUMNS                                                          \
  "record_id::text, space_id::text, type, version, vector::text, hlc, origin_shard, deleted, " \
  "purged, coalesce(key_id, ''), name_ct, metadata_ct, payload_ct, created_at_ms, updated_at_ms"

// The values list of a revision row built from parameters $1..$16.
#define COFFER_VAULT_REVISION_VALUES                                                        \
  "$1::uuid, $2::text, $3::bigint, $4::uuid, $5::text, $6::bigint, $7::jsonb, $8::bigint, " \
  "$9::boolean, $10::boolean, NULLIF($11::text, ''), NULLIF($12::bytea, ''::bytea), "       \
  "NULLIF($13::bytea, ''::bytea), NULLIF($14::bytea, ''::bytea), $15::bigint, $16::bigint"

#define COFFER_VAULT_REVISION_TARGET                                                          \
  "(record_id, origin_shard, origin_counter, space_id, type, version, vector, hlc, deleted, " \
  "purged, key_id, name_ct, metadata_ct, payload_ct, created_at_ms, updated_at_ms)"

// Local writes number their own change (V005): the space's commit-order advisory lock (the key
// of V003's trigger function), taken before the sequence value, held until the statement's
// commit is visible. A CTE, so it runs once, when the value below first needs it: after the
// UPDATE found its row (a check-and-set that matches nothing takes no lock) and before it locks
// that row. $4 = space id.
#define COFFER_VAULT_SPACE_LOCK \
  "space_lock AS (SELECT pg_advisory_xact_lock(1684873540, hashtext($4::uuid::text)))"
#define COFFER_VAULT_NEXT_CHANGE_SEQ "(SELECT nextval('record_change_seq') FROM space_lock)"

// Create: inserts the head unless the id exists; history and outbox follow only on insert.
// Returns one row (the write's change_seq) when inserted, none when the id was taken.
inline constexpr char kInsertRecord[] =
    "WITH " COFFER_VAULT_SPACE_LOCK
    ", head AS ("
    "  INSERT INTO records (record_id, space_id, type, version, vector, hlc, origin_shard,"
    "    deleted, purged, key_id, name_ct, metadata_ct, payload_ct, created_at_ms, updated_at_ms,"
    "    change_seq)"
    "  VALUES ($1::uuid, $4::uuid, $5, $6, $7::jsonb, $8, $2, $9, $10, NULLIF($11, ''),"
    "    NULLIF($12::bytea, ''::bytea), NULLIF($13::bytea, ''::bytea),"
    "    NULLIF($14::bytea, ''::bytea), $15, $16, " COFFER_VAULT_NEXT_CHANGE_SEQ
    ")"
    "  ON CONFLICT (space_id, record_id) DO NOTHING"
    "  RETURNING record_id, change_seq"
    "), history AS ("
    "  INSERT INTO record_history " COFFER_VAULT_REVISION_TARGET
    "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head"
    "), outbox AS ("
    "  INSERT INTO outbox " COFFER_VAULT_REVISION_TARGET "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head"
    ") SELECT change_seq FROM head";

// Local write: check-and-set on (version $17, state_seq $18, hlc $20, origin_shard $21:
// repository::HeadCheck), replaces the head, drops the siblings it resolves, appends history and
// outbox, and applies retention ($19 = keep last N revisions, 0 = all). Returns one row (the
// write's change_seq) when written, none when the state moved on.
inline constexpr char kReplaceHead[] =
    "WITH " COFFER_VAULT_SPACE_LOCK
    ", head AS ("
    "  UPDATE records SET type = $5, version = $6, vector = $7::jsonb, hlc = $8,"
    "    origin_shard = $2, deleted = $9, purged = $10, key_id = NULLIF($11, ''),"
    "    name_ct = NULLIF($12::bytea, ''::bytea), metadata_ct = NULLIF($13::bytea, ''::bytea),"
    "    payload_ct = NULLIF($14::bytea, ''::bytea), updated_at_ms = $16, sibling_count = 0,"
    "    state_seq = state_seq + 1, change_seq = " COFFER_VAULT_NEXT_CHANGE_SEQ
    "  WHERE record_id = $1::uuid AND space_id = $4::uuid AND version = $17 AND state_seq = $18"
    "    AND hlc = $20 AND origin_shard = $21"
    "  RETURNING record_id, change_seq"
    "), resolved AS ("
    "  DELETE FROM record_siblings s USING head"
    "  WHERE s.space_id = $4::uuid AND s.record_id = head.record_id"
    "), history AS ("
    "  INSERT INTO record_history " COFFER_VAULT_REVISION_TARGET
    "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head"
    "), retention AS ("
    "  DELETE FROM record_history h USING head"
    "  WHERE h.space_id = $4::uuid AND h.record_id = head.record_id AND $19::bigint > 0"
    "    AND h.version <= $6 - $19::bigint"
    "), outbox AS ("
    "  INSERT INTO outbox " COFFER_VAULT_REVISION_TARGET "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head"
    ") SELECT change_seq FROM head";

// Purge: like kReplaceHead with a content-less tombstone, dropping all history; the check-and-set
// is (version $17, state_seq $18, hlc $19, origin_shard $20).
inline constexpr char kPurgeRecord[] =
    "WITH " COFFER_VAULT_SPACE_LOCK
    ", head AS ("
    "  UPDATE records SET type = $5, version = $6, vector = $7::jsonb, hlc = $8,"
    "    origin_shard = $2, deleted = $9, purged = $10, key_id = NULLIF($11, ''),"
    "    name_ct = NULLIF($12::bytea, ''::bytea), metadata_ct = NULLIF($13::bytea, ''::bytea),"
    "    payload_ct = NULLIF($14::bytea, ''::bytea), updated_at_ms = $16, sibling_count = 0,"
    "    state_seq = state_seq + 1, change_seq = " COFFER_VAULT_NEXT_CHANGE_SEQ
    "  WHERE record_id = $1::uuid AND space_id = $4::uuid AND version = $17 AND state_seq = $18"
    "    AND hlc = $19 AND origin_shard = $20"
    "  RETURNING record_id, change_seq"
    "), resolved AS ("
    "  DELETE FROM record_siblings s USING head"
    "  WHERE s.space_id = $4::uuid AND s.record_id = head.record_id"
    "), history AS ("
    "  DELETE FROM record_history h USING head"
    "  WHERE h.space_id = $4::uuid AND h.record_id = head.record_id"
    "), outbox AS ("
    "  INSERT INTO outbox " COFFER_VAULT_REVISION_TARGET "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head"
    ") SELECT change_seq FROM head";

// A record's head (is_head = true, with state_seq) and its siblings, head first, siblings in
// descending (hlc, origin_shard) order, each row with the space's position (column 17): the
// greatest change_seq of the space the statement's snapshot sees, or the space's tombstone-GC
// floor when GC deleted its newest rows (the floor rises in the transaction that deletes them).
// Changes of one space commit in change_seq order (COFFER_VAULT_SPACE_LOCK), so every change of
// the space up to that position is visible to this read (the session-token rule of
// service/head_cache.h).
// $1 = record id, $2 = space id.
inline constexpr char kSelectRecord[] =
    "SELECT r.*, GREATEST("
    "    (SELECT coalesce(max(change_seq), 0) FROM records WHERE space_id = $2::uuid),"
    "    (SELECT coalesce(max(change_seq), 0) FROM space_gc_floor WHERE space_id = $2::uuid))"
    " FROM ("
    "  SELECT true AS is_head, state_seq, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM records WHERE space_id = $2::uuid AND record_id = $1::uuid"
    "  UNION ALL"
    "  SELECT false, 0, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM record_siblings WHERE space_id = $2::uuid AND record_id = $1::uuid"
    ") r ORDER BY is_head DESC, hlc DESC, origin_shard DESC";

// Heads of space $1, not purged, deleted = $2, type in $3 (text[]; NULL = any), only conflicted
// ones when $4. In record id order.
inline constexpr char kListHeads[] =
    "SELECT true AS is_head, state_seq, " COFFER_VAULT_REVISION_COLUMNS
    " FROM records"
    " WHERE space_id = $1::uuid AND NOT purged AND deleted = $2"
    "   AND ($3::text[] IS NULL OR type = ANY($3::text[])) AND (NOT $4 OR sibling_count > 0)"
    " ORDER BY record_id";

// Siblings of the conflicted heads of space $1, by record then descending (hlc, origin_shard).
inline constexpr char kListSpaceSiblings[] =
    "SELECT false AS is_head, 0, " COFFER_VAULT_REVISION_COLUMNS
    " FROM record_siblings WHERE space_id = $1::uuid"
    " ORDER BY record_id, hlc DESC, origin_shard DESC";

// History of record $1 of space $7, newest first, after the cursor ($2 = has cursor, $3 version,
// $4 hlc, $5 origin_shard), at most $6 rows.
inline constexpr char kListHistory[] =
    "SELECT false AS is_head, 0, " COFFER_VAULT_REVISION_COLUMNS
    " FROM record_history WHERE space_id = $7::uuid AND record_id = $1::uuid"
    "   AND (NOT $2 OR (version, hlc, origin_shard) < ($3::bigint, $4::bigint, $5::text))"
    " ORDER BY version DESC, hlc DESC, origin_shard DESC LIMIT $6";

// The kept revision of record $1 of space $3 with version $2 (the greatest (hlc, origin) of
// equals).
inline constexpr char kSelectHistoryVersion[] =
    "SELECT false AS is_head, 0, " COFFER_VAULT_REVISION_COLUMNS
    " FROM record_history WHERE space_id = $3::uuid AND record_id = $1::uuid AND version = $2"
    " ORDER BY hlc DESC, origin_shard DESC LIMIT 1";

// Every head and sibling of space $1, purged tombstones included, in a canonical order.
inline constexpr char kSelectSpaceState[] =
    "SELECT * FROM ("
    "  SELECT true AS is_head, 0 AS state_seq, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM records WHERE space_id = $1::uuid"
    "  UNION ALL"
    "  SELECT false, 0, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM record_siblings WHERE space_id = $1::uuid"
    ") r ORDER BY record_id, origin_shard, hlc";

// Records and membership changes waiting for the relay.
inline constexpr char kOutboxBacklog[] =
    "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM space_outbox)";

// Personal space + owner membership, idempotently, in one statement. $1 id, $2 owner, $3 now.
// Returns whether a row with this id exists as a personal space (false: a shared space holds the
// id, which must never happen: shared ids are v4, personal ones v5).
inline constexpr char kEnsurePersonalSpace[] =
    "WITH space AS ("
    "  INSERT INTO spaces (id, personal, name, owner_id, created_at_ms)"
    "  VALUES ($1::uuid, true, 'Personal', $2, $3) ON CONFLICT DO NOTHING RETURNING id"
    "), member AS ("
    "  INSERT INTO space_members (space_id, user_id, role, joined_at_ms)"
    "  SELECT id, $2, 'owner', $3 FROM space ON CONFLICT DO NOTHING"
    ") SELECT EXISTS (SELECT 1 FROM space)"
    "  OR EXISTS (SELECT 1 FROM spaces WHERE id = $1::uuid AND personal AND owner_id = $2)";

// $1 space, $2 user -> role ('removed' or no row: not a member). A shared space's owner is its
// owner register (V010); a personal space's is its member row.
inline constexpr char kSelectRole[] =
    "SELECT CASE WHEN NOT s.personal AND s.owner_id = $2 THEN 'owner' ELSE m.role END"
    " FROM spaces s LEFT JOIN space_members m ON m.space_id = s.id AND m.user_id = $2"
    " WHERE s.id = $1::uuid AND NOT s.deleted";

// Spaces of user $2 (optionally only space $1, NULL = all) with the user's role and the member
// count (the owner included): id, name, name_ct, personal, owner_id, role, created_at_ms, count.
inline constexpr char kSelectSpaces[] =
    "WITH mine AS ("
    "  SELECT id FROM spaces WHERE owner_id = $2 AND NOT personal"
    "  UNION SELECT space_id FROM space_members WHERE user_id = $2 AND role <> 'removed'"
    ") SELECT s.id::text, s.name, coalesce(s.name_ct, ''), s.personal, s.owner_id,"
    "  CASE WHEN NOT s.personal AND s.owner_id = $2 THEN 'owner'"
    "    ELSE (SELECT role FROM space_members m WHERE m.space_id = s.id AND m.user_id = $2) END,"
    "  s.created_at_ms,"
    "  1 + (SELECT count(*) FROM space_members c"
    "       WHERE c.space_id = s.id AND c.role <> 'removed' AND c.user_id <> s.owner_id)"
    " FROM spaces s JOIN mine ON mine.id = s.id"
    " WHERE ($1::uuid IS NULL OR s.id = $1::uuid) AND NOT s.deleted"
    "   AND (s.personal OR s.info_hlc > 0)"
    " ORDER BY s.personal DESC, s.id";

// ---- Shared spaces as registers (V010, docs/architecture.md §3a) ----
// Each merge writes only when the incoming stamp ($hlc, $origin) is greater than the stored one,
// origins compared byte-wise (COLLATE "C") on every shard alike, and returns a row when it wrote.
// Personal spaces are never registers.

// A row for a shared space this shard has not seen yet (its registers fill it in).
inline constexpr char kEnsureSharedSpaceRow[] =
    "INSERT INTO spaces (id, personal, name, owner_id, created_at_ms)"
    " VALUES ($1::uuid, false, '', '', 0) ON CONFLICT DO NOTHING";

// $1 space, $2 name_ct, $3 deleted, $4 created_at_ms, $5 hlc, $6 origin. The name (and creation
// time) is last-writer-wins; `deleted` only ever turns on (a rename concurrent with a delete
// cannot bring the space back), which keeps the merge commutative and idempotent.
inline constexpr char kMergeSpaceInfo[] =
    "WITH newer AS (SELECT (info_hlc < $5 OR (info_hlc = $5 AND"
    "  info_origin COLLATE \"C\" < $6::text)) AS n FROM spaces WHERE id = $1::uuid)"
    " UPDATE spaces SET"
    "  name_ct = CASE WHEN (SELECT n FROM newer) THEN $2 ELSE name_ct END,"
    "  created_at_ms = CASE WHEN (SELECT n FROM newer) THEN $4 ELSE created_at_ms END,"
    "  info_hlc = CASE WHEN (SELECT n FROM newer) THEN $5 ELSE info_hlc END,"
    "  info_origin = CASE WHEN (SELECT n FROM newer) THEN $6 ELSE info_origin END,"
    "  deleted = deleted OR $3"
    " WHERE id = $1::uuid AND NOT personal"
    "   AND ((SELECT n FROM newer) OR ($3 AND NOT deleted))"
    " RETURNING id";

// $1 space, $2 owner_id, $3 hlc, $4 origin.
inline constexpr char kMergeSpaceOwner[] =
    "UPDATE spaces SET owner_id = $2, owner_hlc = $3, owner_origin = $4"
    " WHERE id = $1::uuid AND NOT personal"
    "   AND (owner_hlc < $3 OR (owner_hlc = $3 AND owner_origin COLLATE \"C\" < $4::text))"
    " RETURNING id";

// $1 space, $2 user, $3 role (reader|writer|admin|removed), $4 joined_at_ms, $5 hlc, $6 origin.
inline constexpr char kMergeMember[] =
    "INSERT INTO space_members (space_id, user_id, role, joined_at_ms, hlc, origin)"
    " SELECT $1::uuid, $2, $3, $4, $5, $6"
    " WHERE NOT EXISTS (SELECT 1 FROM spaces WHERE id = $1::uuid AND personal)"
    " ON CONFLICT (space_id, user_id) DO UPDATE SET role = EXCLUDED.role,"
    "   joined_at_ms = EXCLUDED.joined_at_ms, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin"
    " WHERE space_members.hlc < EXCLUDED.hlc OR (space_members.hlc = EXCLUDED.hlc"
    "   AND space_members.origin COLLATE \"C\" < EXCLUDED.origin COLLATE \"C\")"
    " RETURNING user_id";

// $1 id, $2 space, $3 inviter, $4 invitee, $5 role, $6 state, $7 created, $8 expires, $9 hlc,
// $10 origin.
inline constexpr char kMergeInvitation[] =
    "INSERT INTO space_invitations (id, space_id, inviter_id, invitee_id, role, state,"
    "  created_at_ms, expires_at_ms, hlc, origin)"
    " SELECT $1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10"
    " WHERE NOT EXISTS (SELECT 1 FROM spaces WHERE id = $2::uuid AND personal)"
    " ON CONFLICT (id) DO UPDATE SET space_id = EXCLUDED.space_id,"
    "   inviter_id = EXCLUDED.inviter_id, invitee_id = EXCLUDED.invitee_id,"
    "   role = EXCLUDED.role, state = EXCLUDED.state, created_at_ms = EXCLUDED.created_at_ms,"
    "   expires_at_ms = EXCLUDED.expires_at_ms, hlc = EXCLUDED.hlc, origin = EXCLUDED.origin"
    " WHERE space_invitations.hlc < EXCLUDED.hlc OR (space_invitations.hlc = EXCLUDED.hlc"
    "   AND space_invitations.origin COLLATE \"C\" < EXCLUDED.origin COLLATE \"C\")"
    " RETURNING id";

// Queues a local register write for the relay. $1 space, $2 change (RegisterToJson).
inline constexpr char kInsertSpaceOutbox[] =
    "INSERT INTO space_outbox (space_id, change) VALUES ($1::uuid, $2::jsonb)";
// $1 = limit: id, change.
inline constexpr char kSelectSpaceOutbox[] =
    "SELECT id, change::text FROM space_outbox ORDER BY id LIMIT $1";
// $1 = bigint[] literal of ids.
inline constexpr char kDeleteSpaceOutbox[] =
    "DELETE FROM space_outbox WHERE id = ANY($1::bigint[])";

// Members of space $1: the owner first, then by user id (user_id, role, joined_at_ms).
inline constexpr char kSelectMembers[] =
    "SELECT user_id, role, joined_at_ms FROM ("
    "  SELECT owner_id AS user_id, 'owner' AS role, created_at_ms AS joined_at_ms, 0 AS o"
    "  FROM spaces WHERE id = $1::uuid AND NOT deleted AND NOT personal AND owner_id <> ''"
    "  UNION ALL"
    "  SELECT m.user_id, m.role, m.joined_at_ms, 1 FROM space_members m"
    "  JOIN spaces s ON s.id = m.space_id"
    "  WHERE m.space_id = $1::uuid AND NOT s.deleted AND m.role <> 'removed'"
    "    AND (s.personal OR m.user_id <> s.owner_id)"
    ") x ORDER BY o, user_id";

#define COFFER_VAULT_INVITATION_COLUMNS                                                         \
  "i.id::text, i.space_id::text, i.inviter_id, i.invitee_id, i.role, i.state, i.created_at_ms," \
  " i.expires_at_ms"

// One invitation by id.
inline constexpr char kSelectInvitation[] =
    "SELECT " COFFER_VAULT_INVITATION_COLUMNS " FROM space_invitations i WHERE i.id = $1::uuid";

// Pending, unexpired invitations of spaces not deleted: to invitee $1 (NULL = any) in space $2
// (NULL = any), $3 = now (ms). Oldest first, at most 1000.
inline constexpr char kSelectPendingInvitations[] =
    "SELECT " COFFER_VAULT_INVITATION_COLUMNS
    " FROM space_invitations i JOIN spaces s ON s.id = i.space_id"
    " WHERE i.state = 'pending' AND i.expires_at_ms > $3 AND NOT s.deleted"
    "   AND ($1::text IS NULL OR i.invitee_id = $1) AND ($2::uuid IS NULL OR i.space_id = $2::uuid)"
    " ORDER BY i.created_at_ms, i.id LIMIT 1000";

// Every register of space $1 as stored, in a canonical order (digests, snapshots):
// kind, key, hlc, origin, then the value columns.
inline constexpr char kSelectSpaceRegisters[] =
    "SELECT 'info', '', info_hlc, info_origin, coalesce(name_ct, ''), deleted, created_at_ms,"
    "  '', '', 0::bigint, '', '', '', '', 0::bigint, 0::bigint"
    " FROM spaces WHERE id = $1::uuid AND NOT personal AND info_hlc > 0"
    " UNION ALL SELECT 'owner', '', owner_hlc, owner_origin, '', false, 0, owner_id, '', 0, '', '',"
    "  '', '', 0, 0 FROM spaces WHERE id = $1::uuid AND NOT personal AND owner_hlc > 0"
    " UNION ALL SELECT 'member', user_id, hlc, origin, '', false, 0, '', role, joined_at_ms, '',"
    "  '', '', '', 0, 0 FROM space_members WHERE space_id = $1::uuid AND hlc > 0"
    " UNION ALL SELECT 'invitation', id::text, hlc, origin, '', false, 0, '', role, 0, inviter_id,"
    "  invitee_id, state, '', created_at_ms, expires_at_ms"
    " FROM space_invitations WHERE space_id = $1::uuid"
    " ORDER BY 1, 2";

// A shared space's sealed name (an invitation shows it to its invitee).
inline constexpr char kSelectSpaceNameCt[] =
    "SELECT coalesce(name_ct, '') FROM spaces WHERE id = $1::uuid AND NOT personal AND NOT deleted";

// Ids of every shared space with registers (snapshots).
inline constexpr char kSelectSharedSpaceIds[] =
    "SELECT id::text FROM spaces WHERE NOT personal ORDER BY id";

// ---- Shard sync (sync/, migrations/V002__sync.sql) ----

// Outbox rows in commit order: id, enqueue time (Unix ms), then the revision columns. $1 = limit.
inline constexpr char kSelectOutbox[] =
    "SELECT id, (extract(epoch FROM enqueued_at) * 1000)::bigint, " COFFER_VAULT_REVISION_COLUMNS
    " FROM outbox ORDER BY id LIMIT $1";

// Deletes the outbox rows whose delivery Kafka confirmed. $1 = bigint[] literal of ids.
// Committed asynchronously (synchronous_commit off for this statement's own transaction): a
// delete lost in a crash only re-publishes events Kafka already has, which consumers merge as
// no-ops, so the relay need not wait for a WAL flush before its next batch.
inline constexpr char kDeleteOutbox[] =
    "WITH async AS (SELECT set_config('synchronous_commit', 'off', true))"
    " DELETE FROM outbox WHERE id = ANY($1::bigint[]) AND (SELECT true FROM async)";

// Merge of a received revision into a record this shard does not hold: inserts it as the head
// (no outbox: merged revisions are never re-published). Returns a row only when inserted.
// $17, $18 = partition and offset of the event: a tombstone head remembers them (V004 gc_*);
// offset -1 (a snapshot import) = no GC position.
inline constexpr char kMergeInsertHead[] =
    "WITH head AS ("
    "  INSERT INTO records (record_id, space_id, type, version, vector, hlc, origin_shard,"
    "    deleted, purged, key_id, name_ct, metadata_ct, payload_ct, created_at_ms, updated_at_ms,"
    "    gc_partition, gc_offset)"
    "  VALUES ($1::uuid, $4::uuid, $5, $6, $7::jsonb, $8, $2, $9, $10, NULLIF($11, ''),"
    "    NULLIF($12::bytea, ''::bytea), NULLIF($13::bytea, ''::bytea),"
    "    NULLIF($14::bytea, ''::bytea), $15, $16,"
    "    CASE WHEN $10::boolean AND $18::bigint >= 0 THEN $17::integer END,"
    "    CASE WHEN $10::boolean AND $18::bigint >= 0 THEN $18::bigint END)"
    "  ON CONFLICT (space_id, record_id) DO NOTHING"
    "  RETURNING record_id"
    "), history AS ("
    "  INSERT INTO record_history " COFFER_VAULT_REVISION_TARGET
    "  SELECT " COFFER_VAULT_REVISION_VALUES
    " FROM head WHERE NOT $10::boolean ON CONFLICT DO NOTHING"
    ") SELECT record_id FROM head";

// A merge batch takes the commit-order locks of every space it touches ($1 = text[] of space ids)
// in key order before its first row lock, as local writes lock their space before their row
// (V005), so the two never wait for each other in a cycle. The commit-time trigger then finds
// the locks held (advisory locks are re-entrant).
inline constexpr char kLockSpaces[] =
    "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(1684873540, k) FROM"
    "  (SELECT DISTINCT hashtext(s::uuid::text) AS k FROM unnest($1::text[]) s ORDER BY 1) keys"
    ") locked";

// Locks an existing record's head row for a merge. $1 = record id, $2 = space id.
inline constexpr char kLockRecord[] =
    "SELECT state_seq FROM records WHERE space_id = $2::uuid AND record_id = $1::uuid FOR UPDATE";

// Sets the merged head ($1..$16) with sibling_count $17; bumps state_seq so a local write
// computed from the old state re-reads, and (via the V002 trigger) change_seq at commit. When
// $18 (the head is this event's tombstone, alone) the GC position becomes ($19, $20), else NULL.
inline constexpr char kMergeSetHead[] =
    "UPDATE records SET type = $5, version = $6, vector = $7::jsonb, hlc = $8,"
    "  origin_shard = $2, deleted = $9, purged = $10, key_id = NULLIF($11, ''),"
    "  name_ct = NULLIF($12::bytea, ''::bytea), metadata_ct = NULLIF($13::bytea, ''::bytea),"
    "  payload_ct = NULLIF($14::bytea, ''::bytea), created_at_ms = $15, updated_at_ms = $16,"
    "  sibling_count = $17, state_seq = state_seq + 1,"
    "  gc_partition = CASE WHEN $18::boolean THEN $19::integer END,"
    "  gc_offset = CASE WHEN $18::boolean THEN $20::bigint END"
    " WHERE record_id = $1::uuid AND space_id = $4::uuid AND $3::bigint > 0";

inline constexpr char kMergeDeleteSiblings[] =
    "DELETE FROM record_siblings WHERE space_id = $2::uuid AND record_id = $1::uuid";

inline constexpr char kMergeInsertSibling[] =
    "INSERT INTO record_siblings " COFFER_VAULT_REVISION_TARGET
    " VALUES (" COFFER_VAULT_REVISION_VALUES ")";

inline constexpr char kMergeInsertHistory[] =
    "INSERT INTO record_history " COFFER_VAULT_REVISION_TARGET
    " VALUES (" COFFER_VAULT_REVISION_VALUES ") ON CONFLICT DO NOTHING";

inline constexpr char kMergeDropHistory[] =
    "DELETE FROM record_history WHERE space_id = $2::uuid AND record_id = $1::uuid";

// Keeps the newest $2 versions of record $1 of space $3 in history (same rule as kReplaceHead).
inline constexpr char kMergeRetention[] =
    "DELETE FROM record_history WHERE space_id = $3::uuid AND record_id = $1::uuid"
    "  AND version <= (SELECT max(version) FROM record_history"
    "                  WHERE space_id = $3::uuid AND record_id = $1::uuid) - $2";

// Stores the consumer position of partition $1 (never moves it backwards).
inline constexpr char kStoreOffset[] =
    "INSERT INTO consumer_offsets (partition, next_offset) VALUES ($1, $2)"
    " ON CONFLICT (partition) DO UPDATE SET"
    "   next_offset = GREATEST(consumer_offsets.next_offset, EXCLUDED.next_offset),"
    "   updated_at = now()";

// A tombstone's event was read from the topic at partition $2, offset $3 (an own one read back,
// or a duplicate of one already held): record $1 of space $6 becomes a GC candidate if that
// tombstone (origin $4, counter $5) is still its lone head.
inline constexpr char kMarkOwnTombstone[] =
    "UPDATE records SET gc_partition = $2, gc_offset = $3"
    " WHERE space_id = $6::uuid AND record_id = $1::uuid AND purged AND sibling_count = 0"
    "   AND gc_offset IS NULL"
    "   AND origin_shard = $4 AND (vector ->> $4)::bigint = $5";

// Stores shard $1's settled offset $3 of partition $2 (never backwards).
inline constexpr char kStoreProgress[] =
    "INSERT INTO shard_progress (shard_id, partition, settled_offset) VALUES ($1, $2, $3)"
    " ON CONFLICT (shard_id, partition) DO UPDATE SET"
    "   settled_offset = GREATEST(shard_progress.settled_offset, EXCLUDED.settled_offset),"
    "   updated_at = now()";

// What a progress marker reports, read in one snapshot: this shard's consumer offsets (JSON
// object partition -> next offset; a partition stops at its oldest quarantined event that may be
// a legitimate one this shard could not apply yet ('schema', 'merge') until it is retried or
// discarded: other shards must not collect tombstones this shard has not applied; a forged or
// undecodable event never holds GC back), the outbox id sequence's last value (every write
// committed before this snapshot has an id at most this), and the smallest outbox id still
// unpublished.
inline constexpr char kProgressSnapshot[] =
    "SELECT coalesce((SELECT json_object_agg(c.partition, LEAST(c.next_offset,"
    "      (SELECT min(d.kafka_offset) FROM dead_letters d WHERE d.direction = 'in'"
    "         AND d.kind IN ('schema', 'merge') AND d.kafka_partition = c.partition)))"
    "    FROM consumer_offsets c), '{}'::json)::text,"
    "  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM outbox_id_seq),"
    "  (SELECT min(id) FROM outbox)";

// The partitions for which shard $1's own progress marker has come back through the topic.
inline constexpr char kOwnProgressPartitions[] =
    "SELECT partition FROM shard_progress WHERE shard_id = $1 ORDER BY partition";

// Every registered shard's settled offsets: shard, partition, offset.
inline constexpr char kSelectProgress[] =
    "SELECT shard_id, partition, settled_offset FROM shard_progress ORDER BY shard_id, partition";

// Tombstone GC (V004): drops lone purged heads whose event every registered shard has settled
// past (the horizon of their partition = the least settled offset, defined only when every
// registered shard reported that partition), last written before $1 (Unix ms). Raises the
// spaces' GC floors for the change feed. Returns the number of records dropped.
inline constexpr char kCollectTombstones[] =
    "WITH registered AS (SELECT count(DISTINCT shard_id) AS n FROM shard_progress),"
    " horizon AS ("
    "  SELECT partition, min(settled_offset) AS h FROM shard_progress GROUP BY partition"
    "  HAVING count(*) = (SELECT n FROM registered)"
    "), gone AS ("
    "  DELETE FROM records r USING horizon h"
    "  WHERE r.gc_partition = h.partition AND r.gc_offset < h.h AND r.purged"
    "    AND r.sibling_count = 0 AND r.updated_at_ms < $1"
    "  RETURNING r.record_id, r.space_id, r.change_seq"
    "), history AS ("
    "  DELETE FROM record_history h USING gone"
    "  WHERE h.space_id = gone.space_id AND h.record_id = gone.record_id"
    "), floors AS ("
    "  INSERT INTO space_gc_floor (space_id, change_seq)"
    "  SELECT space_id, max(change_seq) FROM gone GROUP BY space_id"
    "  ON CONFLICT (space_id) DO UPDATE SET"
    "    change_seq = GREATEST(space_gc_floor.change_seq, EXCLUDED.change_seq)"
    ") SELECT count(*) FROM gone";

// The change_seq below which space $1's feed may have lost tombstones to GC (0 = none).
inline constexpr char kSpaceGcFloor[] =
    "SELECT coalesce((SELECT change_seq FROM space_gc_floor WHERE space_id = $1::uuid), 0)";

// Bootstrap (README "Bootstrap"): every head and sibling, heads first per record.
inline constexpr char kSnapshotRevisions[] =
    "SELECT * FROM ("
    "  SELECT true AS is_head, 0 AS state_seq, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM records"
    "  UNION ALL"
    "  SELECT false, 0, " COFFER_VAULT_REVISION_COLUMNS
    "  FROM record_siblings"
    ") r ORDER BY space_id, record_id, is_head DESC, hlc DESC, origin_shard DESC";

// GC candidates with the position of their tombstone's event (exported with a snapshot).
inline constexpr char kSnapshotTombstones[] =
    "SELECT record_id::text, gc_partition, gc_offset, space_id::text FROM records"
    " WHERE gc_offset IS NOT NULL";

// An imported GC position: record $1 (of space $4)'s lone tombstone was read at partition $2,
// offset $3.
inline constexpr char kSetTombstonePosition[] =
    "UPDATE records SET gc_partition = $2, gc_offset = $3"
    " WHERE space_id = $4::uuid AND record_id = $1::uuid AND purged AND sibling_count = 0";

// True while this shard's database holds no record and no consumer position.
inline constexpr char kDatabaseIsEmpty[] =
    "SELECT NOT EXISTS (SELECT 1 FROM records) AND NOT EXISTS (SELECT 1 FROM consumer_offsets)";

// An imported consumer position: partition $1 resumes at $2; own events below $3 are merged.
inline constexpr char kStoreImportedOffset[] =
    "INSERT INTO consumer_offsets (partition, next_offset, merge_own_until) VALUES ($1, $2, $3)";

// Partitions where events of this shard's own origin are merged below an offset (re-bootstrap).
inline constexpr char kSelectMergeOwnUntil[] =
    "SELECT partition, merge_own_until FROM consumer_offsets WHERE merge_own_until > 0";

inline constexpr char kSelectOffsets[] =
    "SELECT partition, next_offset FROM consumer_offsets ORDER BY partition";

// Change feed: heads of space $1 with change_seq > $2 in change_seq (= commit) order, at most
// $3. Columns: is_head, state_seq, revision columns, change_seq (17), sibling_count (18).
inline constexpr char kListChanges[] =
    "SELECT true, state_seq, " COFFER_VAULT_REVISION_COLUMNS
    ", change_seq, sibling_count"
    " FROM records WHERE space_id = $1::uuid AND change_seq > $2 ORDER BY change_seq LIMIT $3";

// The greatest change_seq handed out so far (cursors above it were not issued by this database).
inline constexpr char kLastChangeSeq[] =
    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM record_change_seq";

// ---- Dead letters (V008, README "Dead letters") ----

// The columns a DeadLetter row is read from (internal::ReadDeadLetter), 13 of them.
#define COFFER_VAULT_DEAD_LETTER_COLUMNS                                                    \
  "id, direction, kind, error, coalesce(kafka_partition, -1), coalesce(kafka_offset, -1), " \
  "origin_shard, event_key IS NOT NULL, coalesce(event_key, ''::bytea), event_value, "      \
  "mac_key_id, coalesce(mac, ''::bytea), (extract(epoch FROM created_at) * 1000)::bigint"

// Parameters $1..$11 of a dead letter: direction, kind, error, partition (-1 = none), offset
// (-1 = none), origin, key (bytea), value (bytea), MAC key id, MAC (bytea), has key.
#define COFFER_VAULT_DEAD_LETTER_VALUES                               \
  "$1, $2, $3, NULLIF($4::integer, -1), NULLIF($5::bigint, -1), $6, " \
  "CASE WHEN $11::boolean THEN $7::bytea END, $8::bytea, $9, NULLIF($10::bytea, ''::bytea)"
#define COFFER_VAULT_DEAD_LETTER_TARGET                                               \
  "(direction, kind, error, kafka_partition, kafka_offset, origin_shard, event_key, " \
  "event_value, mac_key_id, mac)"

// An incoming dead letter ($1..$11). Once the table holds COFFER_VAULT_DEAD_LETTER_CAP incoming
// ones, new ones keep where and why only (no key, value or MAC): whoever can write to the topic
// must not be able to fill the shard's disk with ~1 MB events. The count stops at the cap, so the
// check costs at most that many index entries.
#define COFFER_VAULT_DEAD_LETTER_CAP "10000"
inline constexpr char kInsertDeadLetter[] =
    "INSERT INTO dead_letters " COFFER_VAULT_DEAD_LETTER_TARGET
    " SELECT $1, $2,"
    "   CASE WHEN f.full THEN $3 || ' (content not kept: " COFFER_VAULT_DEAD_LETTER_CAP
    " dead letters already)' ELSE $3 END,"
    "   NULLIF($4::integer, -1), NULLIF($5::bigint, -1), $6,"
    "   CASE WHEN $11::boolean AND NOT f.full THEN $7::bytea END,"
    "   CASE WHEN f.full THEN ''::bytea ELSE $8::bytea END, $9,"
    "   CASE WHEN f.full THEN NULL ELSE NULLIF($10::bytea, ''::bytea) END"
    " FROM (SELECT count(*) >= " COFFER_VAULT_DEAD_LETTER_CAP
    " AS full FROM"
    "   (SELECT 1 FROM dead_letters WHERE direction = 'in' LIMIT " COFFER_VAULT_DEAD_LETTER_CAP
    ") capped) f";

// Moves outbox row $12 to the dead letters (the relay, for an event Kafka refuses for good).
// Returns one row when the outbox row was still there.
inline constexpr char kDeadLetterOutbox[] =
    "WITH gone AS (DELETE FROM outbox WHERE id = $12 RETURNING id)"
    " INSERT INTO dead_letters " COFFER_VAULT_DEAD_LETTER_TARGET
    " SELECT " COFFER_VAULT_DEAD_LETTER_VALUES " FROM gone RETURNING id";

// The same for a space_outbox row ($12) that cannot be read back.
inline constexpr char kDeadLetterSpaceOutbox[] =
    "WITH gone AS (DELETE FROM space_outbox WHERE id = $12 RETURNING id)"
    " INSERT INTO dead_letters " COFFER_VAULT_DEAD_LETTER_TARGET
    " SELECT " COFFER_VAULT_DEAD_LETTER_VALUES " FROM gone RETURNING id";

// Dead letters after id $1, of direction $2 ('' = both), oldest first, at most $3: the columns
// of COFFER_VAULT_DEAD_LETTER_COLUMNS with the key, value and MAC left empty (a page of up to
// 1000 events of ~1 MB each is not read for a listing), then the value's size (column 13).
inline constexpr char kListDeadLetters[] =
    "SELECT id, direction, kind, error, coalesce(kafka_partition, -1),"
    "  coalesce(kafka_offset, -1), origin_shard, false, ''::bytea, ''::bytea, mac_key_id,"
    "  ''::bytea, (extract(epoch FROM created_at) * 1000)::bigint, octet_length(event_value)"
    " FROM dead_letters WHERE id > $1 AND ($2 = '' OR direction = $2) ORDER BY id LIMIT $3";

inline constexpr char kSelectDeadLetter[] =
    "SELECT " COFFER_VAULT_DEAD_LETTER_COLUMNS " FROM dead_letters WHERE id = $1";

// Returns one row when the dead letter was there.
inline constexpr char kDeleteDeadLetter[] = "DELETE FROM dead_letters WHERE id = $1 RETURNING id";

// Puts a revision back in the outbox ($1..$16), for a re-applied outgoing dead letter.
inline constexpr char kRequeueOutbox[] =
    "INSERT INTO outbox " COFFER_VAULT_REVISION_TARGET " VALUES (" COFFER_VAULT_REVISION_VALUES ")";

// ---- Blobs (FileService, V006, V007) ----

// A blob row as internal::ReadBlob reads it (7 columns).
#define COFFER_VAULT_BLOB_COLUMNS \
  "blob_id::text, space_id::text, size_bytes, chunk_count, key_id, info_ct, created_at_ms"
// Parameters $1..$8 of a blob row: blob_id, space_id, size_bytes, chunk_count, key_id, info_ct,
// created_at_ms, complete (internal::ExecBlob).
#define COFFER_VAULT_BLOB_TARGET \
  "(blob_id, space_id, size_bytes, chunk_count, key_id, info_ct, created_at_ms, complete)"
#define COFFER_VAULT_BLOB_VALUES "$1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8"

// A local upload's blob row. Returns one row when it was inserted, or when it completed a blob
// that was still arriving from another shard (the same content: ids are content-addressed);
// none when the complete blob exists. The chunks follow with kInsertBlobChunk.
inline constexpr char kInsertBlob[] =
    "INSERT INTO blobs " COFFER_VAULT_BLOB_TARGET " VALUES (" COFFER_VAULT_BLOB_VALUES
    ")"
    " ON CONFLICT (blob_id) DO UPDATE SET complete = true WHERE NOT blobs.complete RETURNING 1";

// A chunk; one that is already there (same blob, same index) stays.
inline constexpr char kInsertBlobChunk[] =
    "INSERT INTO blob_chunks (blob_id, chunk_index, chunk_ct) VALUES ($1::uuid, $2, $3)"
    " ON CONFLICT DO NOTHING";

// Queues a blob for the relay (in the transaction that stored it).
inline constexpr char kEnqueueBlob[] = "INSERT INTO blob_outbox (blob_id) VALUES ($1::uuid)";

// A complete blob.
inline constexpr char kSelectBlob[] =
    "SELECT " COFFER_VAULT_BLOB_COLUMNS " FROM blobs WHERE blob_id = $1::uuid AND complete";

inline constexpr char kSelectBlobChunk[] =
    "SELECT chunk_ct FROM blob_chunks WHERE blob_id = $1::uuid AND chunk_index = $2";

// The relay's next queued blobs, oldest first: outbox id, then COFFER_VAULT_BLOB_COLUMNS.
inline constexpr char kReadBlobOutbox[] = "SELECT o.id, " COFFER_VAULT_BLOB_COLUMNS
                                          " FROM blob_outbox o JOIN blobs USING (blob_id)"
                                          " ORDER BY o.id LIMIT $1";

// Published (or no longer there): never sent again.
inline constexpr char kDeleteBlobOutbox[] = "DELETE FROM blob_outbox WHERE id = $1";

// An incoming chunk's blob row ($8 = false), incomplete until its last chunk
// (kCompleteIncomingBlob).
inline constexpr char kInsertIncomingBlob[] =
    "INSERT INTO blobs " COFFER_VAULT_BLOB_TARGET " VALUES (" COFFER_VAULT_BLOB_VALUES
    ")"
    " ON CONFLICT (blob_id) DO NOTHING";

// Makes an incoming blob visible once every chunk is stored. Returns one row when it did.
inline constexpr char kCompleteIncomingBlob[] =
    "UPDATE blobs b SET complete = true WHERE b.blob_id = $1::uuid AND NOT b.complete"
    " AND (SELECT count(*) FROM blob_chunks c WHERE c.blob_id = b.blob_id) = b.chunk_count"
    " RETURNING 1";

}  // namespace coffer::vault::repository::sql
