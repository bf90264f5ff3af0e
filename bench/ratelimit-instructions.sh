#!/usr/bin/env bash
# bench/ratelimit-instructions.sh: the anonymous limiter's cost (#28) in CPU
# instructions per public 1 KiB GET (callgrind, bench/instructions.sh's raw1k
# case), with STOWAGE_RATE_ANONYMOUS off and on (1000000/s, never reached).
#   N=2000 BIN=target/release/stowage bash bench/ratelimit-instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then cargo build --release -q; export BIN=$PWD/target/release/stowage; fi
off=$(CASES=raw1k ANON=0 bash bench/instructions.sh | tail -1)
on=$(CASES=raw1k ANON=1000000 PORT=18297 bash bench/instructions.sh | tail -1)
echo "anonymous limit off: $off"
echo "anonymous limit on:  $on"
python3 -c "import sys,re; a,b=(float(re.search(r':\s+(\d+)',x).group(1)) for x in sys.argv[1:]); print(f'on/off: {b/a:.3f} ({b-a:+.0f} instructions/request)')" "$off" "$on"
