#!/usr/bin/env bash
# Writes the secrets deployments/docker-compose.yml mounts, into deployments/secrets/ (git-ignored
# by deployments/.gitignore). For local and demo use only: production keys belong in a secret
# manager (see helm/README.md). Existing files are kept, so KEKs survive re-runs — a new KEK
# would make every stored record unreadable. --force regenerates everything (wipe the volumes too).
#
#   deployments/generate-dev-secrets.sh [--force] [--dir DIR]
#
# Files (one secret each, no trailing newline):
#   postgres_password          superuser password of the postgres container
#   identity_db_password       password of role coffer_identity   (read by the init script)
#   shard_a_db_password        password of role coffer_shard_a
#   shard_b_db_password        password of role coffer_shard_b
#   identity_db_dsn            libpq DSN of coffer-identity (contains its password)
#   shard_a_db_dsn             libpq DSN of vault shard-a
#   shard_b_db_dsn             libpq DSN of vault shard-b
#   identity.kek               KEK sealing identity's signing keys   "k1:<base64 32 bytes>"
#   vault.kek                  KEK of the vault shards — ONE keyring for all shards (events carry
#                              ciphertext between shards, so every shard must open it)
#   bootstrap_admin_secret     secret of identity's bootstrap admin service account
#
# Permissions: the directory is 0700 (no other host user can reach the files) and the files are
# 0644, because the containers read them as other uids (postgres: 999, coffer: 10001) and
# `docker compose` bind-mounts file secrets with their host mode. Run as root, the script instead
# makes each file 0400 and owned by the uid that reads it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir="$here/secrets"
force=false
while (($#)); do
  case $1 in
    --force) force=true ;;
    --dir) dir=$2; shift ;;
    -h | --help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "generate-dev-secrets: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

readonly COFFER_UID=10001 POSTGRES_UID=999
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

# rand_hex N: N random bytes as hex (safe inside a libpq DSN without quoting).
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
rand_b64() { head -c "$1" /dev/urandom | base64 -w0; }

# put NAME VALUE READER_UID: writes the file unless it exists (or --force).
put() {
  local f="$dir/$1"
  if [[ -s $f && $force == false ]]; then
    return 0
  fi
  printf '%s' "$2" >"$f.tmp"
  mv -f "$f.tmp" "$f"
  created+=("$1")
}

created=()
put postgres_password "$(rand_hex 24)"
for svc in identity shard_a shard_b; do
  put "${svc}_db_password" "$(rand_hex 24)"
done
# DSNs follow the passwords actually on disk (also when only some files were missing).
for svc in identity shard_a shard_b; do
  pw=$(cat "$dir/${svc}_db_password")
  dsn="host=postgres port=5432 dbname=coffer_${svc} user=coffer_${svc} password=${pw} sslmode=disable connect_timeout=5"
  if [[ ! -s "$dir/${svc}_db_dsn" || $force == true || $(cat "$dir/${svc}_db_dsn") != "$dsn" ]]; then
    printf '%s' "$dsn" >"$dir/${svc}_db_dsn"
    created+=("${svc}_db_dsn")
  fi
done
put identity.kek "k1:$(rand_b64 32)"
put vault.kek "k1:$(rand_b64 32)"
put bootstrap_admin_secret "$(rand_b64 24 | tr '+/' '-_')"

owner_of() {
  case $1 in
    postgres_password | *_db_password) echo "$POSTGRES_UID" ;;
    *) echo "$COFFER_UID" ;;
  esac
}
for f in "$dir"/*; do
  [[ -f $f ]] || continue
  if [[ $(id -u) -eq 0 ]]; then
    chown "$(owner_of "$(basename "$f")")" "$f"
    chmod 0400 "$f"
  else
    chmod 0644 "$f"
  fi
done

if ((${#created[@]})); then
  echo "generate-dev-secrets: wrote ${created[*]} in $dir" >&2
else
  echo "generate-dev-secrets: all secrets already present in $dir (use --force to regenerate)" >&2
fi
