#!/usr/bin/env bash
# Start a throwaway PostGIS server on 127.0.0.1 for the PostGIS store tests and export
# JANGKAU_TEST_POSTGIS_URL. Sourced by scripts/test.sh; installs Debian's PostgreSQL 15 +
# PostGIS 3 when run as root and they are missing. Without them the tests skip with a reason.
# The server is stopped when the calling shell exits.
pg_ver=15
PGBIN=/usr/lib/postgresql/$pg_ver/bin
if [ -n "${JANGKAU_TEST_POSTGIS_URL:-}" ]; then
  return 0 2>/dev/null || exit 0
fi
if [ ! -x "$PGBIN/initdb" ] || [ ! -d /usr/share/postgresql/$pg_ver/extension ] \
  || ! ls /usr/share/postgresql/$pg_ver/extension/postgis.control >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "test: installing PostgreSQL $pg_ver with PostGIS for the PostGIS store tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "postgresql-$pg_ver-postgis-3" >/dev/null) || return 1
  else
    return 1
  fi
fi
if ! id postgres >/dev/null 2>&1; then
  return 1
fi
JANGKAU_PG_DIR=$(mktemp -d /tmp/jangkau-pg.XXXXXX)
chown postgres "$JANGKAU_PG_DIR"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
su postgres -c "$PGBIN/initdb -D $JANGKAU_PG_DIR/data -A trust -U postgres" >/dev/null || return 1
su postgres -c "$PGBIN/pg_ctl -D $JANGKAU_PG_DIR/data \
  -o '-p $port -k $JANGKAU_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off' \
  -l $JANGKAU_PG_DIR/log -w start" >/dev/null || return 1
export JANGKAU_TEST_POSTGIS_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export JANGKAU_PG_DIR PGBIN
jangkau_stop_pg() {
  su postgres -c "$PGBIN/pg_ctl -D $JANGKAU_PG_DIR/data -m fast stop" >/dev/null 2>&1
  rm -rf "$JANGKAU_PG_DIR"
}
trap jangkau_stop_pg EXIT
echo "test: PostGIS test server on 127.0.0.1:$port"
