#!/usr/bin/env bash
# Runs once, when the postgres:15 container initialises an empty data directory
# (/docker-entrypoint-initdb.d). Creates one login role and one database per Coffer service —
# coffer_identity, coffer_shard_a, coffer_shard_b — each database owned by its role, with no
# access for PUBLIC. Passwords are read from the mounted secrets inside psql (\set with
# backticks), so they never appear in a command line or in this file.
# Coffer applies its own schema migrations at start (advisory-locked), so nothing else is needed.
set -euo pipefail

create_db() {
  local name=$1 password_file=$2
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password_file="$password_file" <<'SQL'
\set password `cat :password_file`
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
  echo "coffer init: database $name ready"
}

create_db coffer_identity /run/secrets/identity_db_password
create_db coffer_shard_a /run/secrets/shard_a_db_password
create_db coffer_shard_b /run/secrets/shard_b_db_password
