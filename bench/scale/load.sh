#!/usr/bin/env bash
# Loads N file rows into a scratch PostgreSQL schema (plain, then hash-
# partitioned by account) and measures the two hot metadata queries:
# get_file by path and one folder page. Numbers go into docs/scale.md.
#
#   PGURL=postgres://postgres@127.0.0.1:5432/test N=2000000 bench/scale/load.sh
#
# N defaults to 1 000 000: the shared development machine had ~5 GB of free
# disk, and a first 2 M-row attempt with logged tables filled it with WAL. The
# tables are UNLOGGED (no WAL; reads, plans and indexes are the same), and
# the script refuses to start when the database's disk has less than ~1.5 KB
# per row free. Rows are generated in SQL (generate_series), so loading is
# bounded by PostgreSQL, not by a client.
set -euo pipefail
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test}
N=${N:-1000000}
ACCOUNTS=${ACCOUNTS:-1000}
LOOPS=${LOOPS:-20000}
PARTS=${PARTS:-16}
SCHEMA=scale_bench
psql_() { psql "$PGURL" -v ON_ERROR_STOP=1 -qAt "$@"; }

schema() { # $1 = plain | partitioned
  psql_ -c "SET client_min_messages=warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA;"
  if [ "$1" = plain ]; then
    psql_ -c "SET search_path=$SCHEMA;
      CREATE UNLOGGED TABLE file_versions (version_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,
        path TEXT COLLATE \"C\" NOT NULL, blob_key TEXT NOT NULL, size BIGINT NOT NULL,
        mime TEXT NOT NULL, etag TEXT NOT NULL, original_file_name TEXT, metadata TEXT NOT NULL,
        tags TEXT NOT NULL, created_at BIGINT NOT NULL, sha256 TEXT);
      CREATE UNLOGGED TABLE files (account_id TEXT NOT NULL, path TEXT COLLATE \"C\" NOT NULL,
        parent TEXT COLLATE \"C\" NOT NULL, version_id TEXT NOT NULL, PRIMARY KEY (account_id, path));"
  else
    psql_ -c "SET search_path=$SCHEMA;
      CREATE UNLOGGED TABLE file_versions (version_id TEXT NOT NULL, account_id TEXT NOT NULL,
        path TEXT COLLATE \"C\" NOT NULL, blob_key TEXT NOT NULL, size BIGINT NOT NULL,
        mime TEXT NOT NULL, etag TEXT NOT NULL, original_file_name TEXT, metadata TEXT NOT NULL,
        tags TEXT NOT NULL, created_at BIGINT NOT NULL, sha256 TEXT,
        PRIMARY KEY (account_id, version_id)) PARTITION BY HASH (account_id);
      CREATE UNLOGGED TABLE files (account_id TEXT NOT NULL, path TEXT COLLATE \"C\" NOT NULL,
        parent TEXT COLLATE \"C\" NOT NULL, version_id TEXT NOT NULL,
        PRIMARY KEY (account_id, path)) PARTITION BY HASH (account_id);"
    for i in $(seq 0 $((PARTS - 1))); do
      psql_ -c "SET search_path=$SCHEMA;
        CREATE UNLOGGED TABLE file_versions_$i PARTITION OF file_versions FOR VALUES WITH (MODULUS $PARTS, REMAINDER $i);
        CREATE UNLOGGED TABLE files_$i PARTITION OF files FOR VALUES WITH (MODULUS $PARTS, REMAINDER $i);"
    done
  fi
}

load() {
  local t0=$(date +%s)
  # Account a = i % ACCOUNTS; within it file j = i / ACCOUNTS, in 20 folders.
  psql_ -c "SET search_path=$SCHEMA; SET synchronous_commit=off;
    INSERT INTO file_versions
    SELECT md5(i::text), 'a' || lpad((i % $ACCOUNTS)::text, 6, '0'),
      '/d' || ((i / $ACCOUNTS) % 20) || '/f' || (i / $ACCOUNTS) || '.bin',
      'a' || lpad((i % $ACCOUNTS)::text, 6, '0') || '/' || md5(i::text),
      1000 + i % 100000, 'application/octet-stream', md5(i::text) || md5((-i)::text),
      NULL, '{}', '[]', 1700000000000 + i, md5(i::text) || md5((-i)::text)
    FROM generate_series(1, $N) i;
    INSERT INTO files
    SELECT 'a' || lpad((i % $ACCOUNTS)::text, 6, '0'),
      '/d' || ((i / $ACCOUNTS) % 20) || '/f' || (i / $ACCOUNTS) || '.bin',
      '/d' || ((i / $ACCOUNTS) % 20), md5(i::text)
    FROM generate_series(1, $N) i;"
  psql_ -c "SET search_path=$SCHEMA;
    CREATE INDEX ON file_versions(account_id, path, created_at);
    CREATE INDEX ON file_versions(blob_key);
    CREATE INDEX ON files(account_id, parent, path);"
  psql_ -c "VACUUM ANALYZE $SCHEMA.file_versions" -c "VACUUM ANALYZE $SCHEMA.files"
  echo "loaded $N rows in $(( $(date +%s) - t0 )) s; size: $(psql_ -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$SCHEMA' AND c.relkind IN ('r', 'i')")"
}

measure() { # $1 = join condition on versions
  local join=$1 mode=${2:-auto} j=$(( (N / ACCOUNTS) / 2 ))
  local acc="a000042" path="/d$(( j % 20 ))/f$j.bin"
  echo "-- get_file by path (EXPLAIN ANALYZE)"
  psql_ -c "SET search_path=$SCHEMA; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
    SELECT v.* FROM files f JOIN file_versions v ON $join
    WHERE f.account_id = '$acc' AND f.path = '$path';" | grep -E "Scan|Execution|Planning|Buffers: shared" | head -8
  echo "-- folder page, 100 items (EXPLAIN ANALYZE)"
  psql_ -c "SET search_path=$SCHEMA; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
    SELECT v.* FROM files f JOIN file_versions v ON $join
    WHERE f.account_id = '$acc' AND f.parent = '/d7' AND f.path > '/d7/f1' ORDER BY f.path LIMIT 100;" \
    | grep -E "Scan|Execution|Planning|Limit" | head -8
  echo "-- timed loops ($LOOPS random lookups, $((LOOPS / 10)) random pages), server-side, plan_cache_mode=$mode"
  psql_ -c "SET search_path=$SCHEMA; SET plan_cache_mode=$mode;
    DO \$\$ DECLARE t0 timestamptz; r record; i int; a text; p text; n int := $N; acc int := $ACCOUNTS;
    BEGIN
      t0 := clock_timestamp();
      FOR i IN 1..$LOOPS LOOP
        n := 1 + floor(random() * $N)::int;
        a := 'a' || lpad((n % acc)::text, 6, '0');
        p := '/d' || ((n / acc) % 20) || '/f' || (n / acc) || '.bin';
        SELECT v.* INTO r FROM files f JOIN file_versions v ON $join WHERE f.account_id = a AND f.path = p;
      END LOOP;
      RAISE NOTICE 'get_file: % us/lookup', round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / $LOOPS, 1);
      t0 := clock_timestamp();
      FOR i IN 1..$((LOOPS / 10)) LOOP
        a := 'a' || lpad(floor(random() * acc)::int::text, 6, '0');
        PERFORM count(*) FROM (SELECT v.* FROM files f JOIN file_versions v ON $join
          WHERE f.account_id = a AND f.parent = '/d' || (i % 20) ORDER BY f.path LIMIT 100) s;
      END LOOP;
      RAISE NOTICE 'list page (100): % us/page', round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / $((LOOPS / 10)), 1);
    END \$\$;" 2>&1 | sed 's/^psql:.*NOTICE: */  /'
}

DATA=$(psql_ -c "SHOW data_directory")
if [ -d "$DATA" ]; then
  FREE_KB=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
  if [ "$FREE_KB" -lt $(( N * 3 / 2 )) ]; then
    echo "refusing: ${FREE_KB} KiB free at $DATA, need ~$(( N * 3 / 2 )) KiB for N=$N" >&2
    exit 1
  fi
fi
echo "== plain tables, N=$N, $ACCOUNTS accounts"
schema plain; load; measure "v.version_id = f.version_id"
echo "== hash-partitioned by account ($PARTS partitions), N=$N"
schema partitioned; load; measure "v.account_id = f.account_id AND v.version_id = f.version_id"
measure "v.account_id = f.account_id AND v.version_id = f.version_id" force_custom_plan | grep -A3 "timed loops"
psql_ -c "SET client_min_messages=warning; DROP SCHEMA $SCHEMA CASCADE;"
