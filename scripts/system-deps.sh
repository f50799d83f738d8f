#!/usr/bin/env bash
# The system side of rlvr-stack's set-up, run by `make install` (and so by `make demo` and `make test`)
# and by .ci/run:
#   - python3's venv module (Debian: python3-venv);
#   - bubblewrap, the code sandbox's jail;
#   - every sandbox language's compiler and runtime: the files its `programs` key names in
#     sandbox/rlvr_sandbox/languages.toml (else the first word of its compile and run commands),
#     from the Debian packages its `packages` key lists;
#   - a Redis on 127.0.0.1:6379 for queue mode and the tests: installed and started when none answers
#     (no persistence: a scratch server; deployments run their own).
# As root it installs what is missing with apt-get; otherwise it prints the one command to run and stops.
#   bash scripts/system-deps.sh [--no-redis]
set -euo pipefail
cd "$(dirname "$0")/.."

want_redis=1
[ "${1:-}" = "--no-redis" ] && want_redis=0

redis_answers() {
    python3 - <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

missing=()
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
# "program package..." per language: the files it needs (absolute paths) and where they come from, by the
# sandbox's own rule (rlvr_sandbox/languages.py is stdlib-only, so it loads from the source, before any venv)
while read -r exe packages; do
    [ -e "$exe" ] || missing+=($packages)
done < <(PYTHONPATH=sandbox python3 - <<'PY'
from rlvr_sandbox.languages import load_languages
for lang in load_languages().values():
    for exe in lang.required_programs():
        print(exe, " ".join(lang.packages) or f"<{lang.name}: no packages listed>")
PY
)
need_redis=0
if [ "$want_redis" = 1 ] && ! redis_answers; then
    need_redis=1
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "system-deps: missing ${missing[*]}; install them (Debian/Ubuntu) with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$need_redis" = 1 ]; then
    echo "system-deps: no Redis on 127.0.0.1:6379, starting one (no persistence)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 50); do redis_answers && break; sleep 0.2; done
    redis_answers || { echo "system-deps: Redis did not start" >&2; exit 1; }
fi
