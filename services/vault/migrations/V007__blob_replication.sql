-- Blobs travel between shards (services/vault/README.md "Files"): a blob stored locally queues
-- one `blob_outbox` row in the same transaction; the outbox relay publishes the blob's chunks as
-- ChangeEvent.blob_chunk events and then deletes the row. A consumer stores incoming chunks as
-- they arrive under a blob row that stays `complete = false` (invisible to FileService) until
-- every chunk is there.
CREATE TABLE blob_outbox (
  id          bigserial PRIMARY KEY,
  blob_id     uuid NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE blobs ADD COLUMN complete boolean NOT NULL DEFAULT true;

-- As V002 did for records: a blob may arrive for a personal space whose owner has not called
-- this shard yet (the space row appears, with the same id, on first use).
ALTER TABLE blobs DROP CONSTRAINT blobs_space_id_fkey;
