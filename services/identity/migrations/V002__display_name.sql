-- Public user profiles (LookupUser / GetUser): an optional display name per user, given at
-- registration. Existing users get the empty name (= none). The service checks the content
-- (UTF-8, no control characters); the schema bounds the length so a bug cannot store more.
ALTER TABLE users
  ADD COLUMN display_name text NOT NULL DEFAULT '',
  ADD CONSTRAINT users_display_name_length CHECK (char_length(display_name) <= 64);
