#!/bin/sh
# Writes the random secrets compose.yaml needs into deploy/compose/secrets/ (git-ignored, the
# folder only its owner can enter). A file already there is kept, so running it again changes
# nothing. No secret is printed; read them from the files.
#
#   postgres-password    PostgreSQL's password (compose secret postgres_password)
#   aggregator.env       DATABASE_URL with that password (the aggregator's env_file)
#   admin-token          the aggregator's admin token (compose secret admin_token, ADMIN_TOKEN_FILE)
#   inference-api.env    ADMIN_TOKEN of the inference API's own operating-point routes
#
# The two secret files are mounted into containers that run as other users (uid 10001, and
# postgres), so they are world-readable inside the 0700 folder; the env files are read by
# `docker compose` itself and stay 0600.
set -eu

dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir"
chmod 700 "$dir"

random() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# write NAME MODE CONTENT: only when NAME does not exist yet.
write() {
  if [ -e "$dir/$1" ]; then
    echo "kept   $dir/$1"
    return
  fi
  (umask 077 && printf '%s\n' "$3" >"$dir/$1")
  chmod "$2" "$dir/$1"
  echo "wrote  $dir/$1"
}

write postgres-password 644 "$(random)"
password="$(head -n 1 "$dir/postgres-password")"
write aggregator.env 600 "DATABASE_URL=postgresql://fedxray:${password}@postgres:5432/fedxray"
write admin-token 644 "$(random)"
write inference-api.env 600 "ADMIN_TOKEN=$(random)"
