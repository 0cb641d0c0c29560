#!/usr/bin/env bash
# PostgreSQL for tests/dse/test_postgres.py (3 `slmsim worker` processes sharing one study):
# install Debian's server if missing, start the default cluster on 127.0.0.1:5432, and
# create role and database `slmsim` (password `slmsim`), i.e. the test's default URL
# postgresql://slmsim:slmsim@127.0.0.1:5432/slmsim. The driver (psycopg2-binary) comes with
# the project's `test` extra. Idempotent: safe to run again on a machine that has it all.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends postgresql
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  $SUDO pg_createcluster "$version" main
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -qx online; then
  $SUDO pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432

psql_admin() {  # psql as the postgres superuser (peer authentication on the local socket)
  if [ -n "$SUDO" ]; then
    sudo -u postgres psql -v ON_ERROR_STOP=1 -q "$@"
  else
    su postgres -c "psql -v ON_ERROR_STOP=1 -q $(printf '%q ' "$@")"
  fi
}
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'slmsim'")" != "1" ]; then
  psql_admin -c "CREATE ROLE slmsim LOGIN PASSWORD 'slmsim'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'slmsim'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE slmsim OWNER slmsim"
fi
# a test database: commits need not wait for the WAL to reach the disk (2x faster trials; a
# server crash may lose the last commits, never corrupt). docs/dse.md discusses it for real use.
psql_admin -c "ALTER DATABASE slmsim SET synchronous_commit = off"
# a second login for tests/dse/test_dse_secrets.py: its password (with '@' and ':') is a
# sentinel the test greps every output, log and message for; it acts as slmsim (member)
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'slmsim_sentinel'")" != "1" ]; then
  psql_admin -c "CREATE ROLE slmsim_sentinel LOGIN PASSWORD 'Sent1nel@pa:ss-7q' IN ROLE slmsim"
fi
# ... and creates what it creates *as* slmsim: the first test to reach a fresh database may be
# a sentinel one (tests/dse/test_dse_grpc.py sorts before test_dse_postgres.py), and Optuna's
# tables created by the sentinel would be owned by it, so the slmsim role (not a member of the
# sentinel) would get "permission denied for table version_info". Tables a sentinel session
# already created are handed to slmsim.
psql_admin -c "ALTER ROLE slmsim_sentinel SET role = 'slmsim'"
psql_admin -d slmsim -c "REASSIGN OWNED BY slmsim_sentinel TO slmsim"
echo "postgres $version ready: postgresql://slmsim:slmsim@127.0.0.1:5432/slmsim"
