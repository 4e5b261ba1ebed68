#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# Debian packages: chromium (browser tests), postgresql-client (psql against the SQL surface),
# docker-compose (validates docker-compose.yml; no engine is needed), openssl (TLS test certificates),
# nodejs + npm (Cube's own compiler, the conformance oracle of tests/test_cube_oracle.py).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
# SQLAlchemy 1.4 + psycopg2 (Superset's stack) cannot share a venv with SQLAlchemy 2: its own folder,
# put first on PYTHONPATH by tests/test_clients_sql.py.
[ -d .clients/sa14/sqlalchemy ] || .venv/bin/python -m pip install -q --target .clients/sa14 \
  'sqlalchemy>=1.4.49,<2' 'psycopg2-binary>=2.9' >/dev/null
# Cube's JS clients (current and 0.35) for tests/test_clients_cube.py, pinned by the committed
# package-lock.json (no install scripts are needed).
(cd tests/clients/cubejs && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

# The Cube oracle (Cube's own schema compiler, pinned by its package-lock.json): copied from the
# shared tools folder and installed with `npm ci --ignore-scripts` (its post-install steps would
# download a binary it does not need). The live conformance test fails, never skips, without it.
ORACLE_SRC="${CUBE_ORACLE_SRC:-/work/shared/tools/cube-oracle}"
ORACLE_DIR="${CUBE_ORACLE_DIR:-$PWD/.cache/cube-oracle}"
if [ ! -d "$ORACLE_DIR/node_modules/@cubejs-backend/schema-compiler" ]; then
  if [ ! -f "$ORACLE_SRC/package-lock.json" ]; then
    echo "cube-oracle not found at $ORACLE_SRC (set CUBE_ORACLE_SRC to the tool's folder)" >&2
    exit 1
  fi
  mkdir -p "$ORACLE_DIR"
  cp "$ORACLE_SRC"/cube_sql.js "$ORACLE_SRC"/package.json "$ORACLE_SRC"/package-lock.json "$ORACLE_DIR"/
  (cd "$ORACLE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
export CUBE_ORACLE_DIR="$ORACLE_DIR"

set +e
# Bytecode caching on: with PYTHONDONTWRITEBYTECODE set, pytest re-rewrites the asserts of every
# test module and plugin package (schemathesis, hypothesis, locust) in every worker on every run.
unset PYTHONDONTWRITEBYTECODE
# Three workers (pytest-xdist) on the two cores: the slow attack and fault suites run beside the
# rest, not dropped (tests/conftest.py's scheduler says which tests share a worker; slow tests
# start first). The third keeps a core busy while a worker waits in a test that waits by design
# (a publish under 100 users, the locust runs, login delays): in alternated runs on this machine
# 3 workers took 221.7, 229.7 and 250.3 s where 2 took 227.1, 259.9 and 255.8 s.
.venv/bin/python -m pytest -n "${CROSSTRACK_TEST_WORKERS:-3}" "$@"
code=$?
set -e
if [ "$code" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$code"
