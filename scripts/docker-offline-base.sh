#!/usr/bin/env bash
# Local stand-ins for the two public base images fedxray's Dockerfile and compose.yaml use,
# for a machine that has a Docker engine and Debian's apt mirror but cannot pull from Docker Hub
# (docs/deployment.md, "Verified"). Nothing here is used by default: the Dockerfile still
# builds on node:20-bookworm-slim and compose.yaml still runs postgres:16-bookworm; these
# images are passed in with --build-arg NODE_IMAGE=... and POSTGRES_IMAGE=....
#
#   scripts/docker-offline-base.sh            # makes both images (about 3 min, as root)
#   docker build --build-arg NODE_IMAGE=fedxray-local/node:20-bookworm-slim \
#     --target aggregator -t fedxray-aggregator:local .
#
# fedxray-local/node:20-bookworm-slim: Debian bookworm (debootstrap, minbase) with this
#   machine's own Node.js binary, npm and corepack under /usr/local, where the official
#   image has them. Needs Node.js 20 here (checked).
# fedxray-local/postgres:bookworm: Debian bookworm with Debian's PostgreSQL (15 in bookworm,
#   not the official image's 16) and a small entrypoint that reads what compose.yaml gives the
#   official one: POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, the
#   data in /var/lib/postgresql/data, pg_isready on the PATH.
#
# Environment: MIRROR (default: the first Debian mirror URI in /etc/apt/sources.list*, the one
# this machine's apt uses),
# SUITE (bookworm), NODE_TAG, POSTGRES_TAG, WORK (a scratch folder, removed at the end).
set -euo pipefail

SUITE=${SUITE:-bookworm}
NODE_TAG=${NODE_TAG:-fedxray-local/node:20-bookworm-slim}
POSTGRES_TAG=${POSTGRES_TAG:-fedxray-local/postgres:bookworm}
WORK=${WORK:-$(mktemp -d /var/tmp/fedxray-base.XXXXXX)}
if [ -z "${MIRROR:-}" ]; then
  # the URI of the first Debian (not -security) source that apt uses: "URIs:" or "deb" lines
  MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | sed -n -E 's/^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)(https?:\/\/[^[:space:]]+\/debian\/?)([[:space:]].*)?$/\3/p' \
    | head -n 1 || true)
  [ -n "$MIRROR" ] || { echo 'docker-offline-base: no Debian mirror in /etc/apt/sources.list*; set MIRROR' >&2; exit 1; }
fi

need() { command -v "$1" >/dev/null || { echo "docker-offline-base: $1 is missing ($2)" >&2; exit 1; }; }
need docker 'apt-get install docker.io'
need debootstrap 'apt-get install debootstrap'
need node 'Node.js 20'
[ "$(id -u)" = 0 ] || { echo 'docker-offline-base: run as root (debootstrap)' >&2; exit 1; }

NODE_BIN=$(readlink -f "$(command -v node)")
NODE_MAJOR=$("$NODE_BIN" -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 20 ] || { echo "docker-offline-base: node here is $("$NODE_BIN" --version), not 20" >&2; exit 1; }
NODE_MODULES=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/..
NODE_MODULES=$(readlink -f "$NODE_MODULES")

trap 'rm -rf "$WORK"' EXIT
echo "docker-offline-base: debootstrap $SUITE from $MIRROR into $WORK/rootfs"
debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
ROOT=$WORK/rootfs
# Debian's own mirror lines inside, as the official images have them; no apt lists kept.
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" >"$ROOT/etc/apt/sources.list"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/archives/*.deb

# ---- the PostgreSQL stand-in: bookworm's postgresql and an entrypoint --------------------------
cp -a "$ROOT" "$WORK/pgroot"
PG=$WORK/pgroot
cp /etc/resolv.conf "$PG/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$PG/usr/sbin/policy-rc.d"; chmod 755 "$PG/usr/sbin/policy-rc.d"
chroot "$PG" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && pg_dropcluster --stop 15 main || true'
: >"$PG/etc/resolv.conf"
rm -f "$PG/usr/sbin/policy-rc.d"
PGBIN=$(ls -d "$PG"/usr/lib/postgresql/*/bin | head -n 1)
PGBIN=${PGBIN#"$PG"}
cat >"$PG/usr/local/bin/docker-entrypoint.sh" <<EOF
#!/bin/sh
# Stand-in for the official postgres image's entrypoint: the variables compose.yaml sets.
set -eu
PATH=$PGBIN:\$PATH
PGDATA=\${PGDATA:-/var/lib/postgresql/data}
export PGDATA
if [ "\$(id -u)" = 0 ]; then
  mkdir -p "\$PGDATA" /run/postgresql
  chown -R postgres:postgres "\$PGDATA" /run/postgresql
  chmod 700 "\$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "\$0" "\$@"
fi
if [ ! -s "\$PGDATA/PG_VERSION" ]; then
  if [ -n "\${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD=\$(cat "\$POSTGRES_PASSWORD_FILE"); fi
  : "\${POSTGRES_PASSWORD:?POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE must be set}"
  POSTGRES_USER=\${POSTGRES_USER:-postgres}
  POSTGRES_DB=\${POSTGRES_DB:-\$POSTGRES_USER}
  pw=\$(mktemp); printf '%s\n' "\$POSTGRES_PASSWORD" >"\$pw"
  initdb --username="\$POSTGRES_USER" --pwfile="\$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "\$pw"
  echo "host all all all scram-sha-256" >>"\$PGDATA/pg_hba.conf"
  if [ "\$POSTGRES_DB" != postgres ]; then
    postgres --single -D "\$PGDATA" -c listen_addresses='' postgres >/dev/null <<SQL
CREATE DATABASE "\$POSTGRES_DB" OWNER "\$POSTGRES_USER";
SQL
  fi
  echo "docker-entrypoint: initialised \$PGDATA (user \$POSTGRES_USER, database \$POSTGRES_DB)"
fi
exec postgres -D "\$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "\$@"
EOF
chmod 755 "$PG/usr/local/bin/docker-entrypoint.sh"
ln -sf "$PGBIN/pg_isready" "$PG/usr/local/bin/pg_isready"
tar -C "$PG" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
  --change 'EXPOSE 5432' \
  - "$POSTGRES_TAG" >/dev/null
echo "docker-offline-base: $POSTGRES_TAG ($("$PG$PGBIN/postgres" --version 2>/dev/null || echo postgres))"
rm -rf "$PG"

# ---- the Node.js stand-in: this machine's node, npm and corepack --------------------------------
install -D -m 755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
for pkg in npm corepack; do
  [ -d "$NODE_MODULES/$pkg" ] && cp -a "$NODE_MODULES/$pkg" "$ROOT/usr/local/lib/node_modules/"
done
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
[ -d "$ROOT/usr/local/lib/node_modules/corepack" ] \
  && ln -sf ../lib/node_modules/corepack/dist/corepack.js "$ROOT/usr/local/bin/corepack"
chroot "$ROOT" /usr/local/bin/node --version >/dev/null
# Where this machine reaches the npm registry through a TLS-inspecting proxy, the build's
# `npm ci` needs the CA that signs for it: the machine's own bundle (NODE_EXTRA_CA_CERTS,
# else SSL_CERT_FILE) goes into this local image only. The official image needs none.
CA_CHANGE=()
CA_FILE=${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-}}
if [ -n "$CA_FILE" ] && [ -f "$CA_FILE" ]; then
  install -D -m 644 "$CA_FILE" "$ROOT/usr/local/share/fedxray-build-ca.crt"
  CA_CHANGE=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/fedxray-build-ca.crt')
fi
tar -C "$ROOT" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "${CA_CHANGE[@]}" \
  --change "ENV NODE_VERSION=$("$NODE_BIN" -p process.versions.node)" \
  --change 'CMD ["node"]' \
  - "$NODE_TAG" >/dev/null
echo "docker-offline-base: $NODE_TAG (node $("$NODE_BIN" --version))"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^fedxray-local/'
