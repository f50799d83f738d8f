#!/usr/bin/env bash
# The compose stack, proven end to end on this machine (run as root, from anywhere in a clone):
#
#   deploy/compose-smoke.sh [--backlog-csv PATH] [--extra-ca FILE] [--project NAME] [--port N] [--keep]
#
#  1. engine and compose: installs docker.io and the pinned compose plugin where missing, starts dockerd when no
#     engine answers (deploy/docker-setup.sh), and stops it at the end only if it started it;
#  2. base images: python:3.11-slim-bookworm and redis:7-bookworm, pulled, or built locally as stand-ins when
#     they cannot be pulled (deploy/base-images.sh; kept for the next run);
#  3. extra CA: --extra-ca FILE is trusted by the build's pip (copied into deploy/certs/ for the build, removed
#     afterwards). Without it, when a container cannot verify https://pypi.org but this machine can (a TLS-
#     inspecting proxy), this machine's CA bundle is used that way. Never part of the final image;
#  4. `docker compose up --build --wait` (project rlvr-smoke, the gateway on a free 127.0.0.1 port);
#  5. scores a mixed batch (math, code, ifeval, language, format) through the gateway and checks every verdict,
#     and that every verifier the gateway lists has a live worker (but the judge profile's);
#  6. scales math-worker to 3, SIGKILLs one holding claimed work mid-batch, checks every item is answered
#     exactly once, right, and none lost, while recording the math stream's backlog every 0.5 s into
#     --backlog-csv (default: in the run's temp dir);
#  7. replays that curve through the Helm chart's math ScaledObject (deploy/helm/keda_simulate.py; needs the
#     venv's PyYAML and helm: make install, bash deploy/k8s-tools.sh .venv) and prints it;
#  8. prints each phase's time; `docker compose down -v` on exit, whatever happened (--keep: leave it up).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PROJECT=rlvr-smoke
PORT=""
BACKLOG_CSV=""
EXTRA_CA=""
KEEP=0
while (($#)); do
    case $1 in
        --backlog-csv) BACKLOG_CSV=$2; shift 2 ;;
        --extra-ca) EXTRA_CA=$2; shift 2 ;;
        --project) PROJECT=$2; shift 2 ;;
        --port) PORT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "compose-smoke: unknown argument $1 (--help)" >&2; exit 2 ;;
    esac
done

say() { echo "compose-smoke: $*"; }
[ "$(id -u)" = 0 ] || { say "run as root (it may install packages and start dockerd)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/rlvr-compose-smoke.XXXXXX)
BACKLOG_CSV=${BACKLOG_CSV:-$TMP/backlog-math.csv}
CA_COPY=deploy/certs/compose-smoke-extra-ca.crt
PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
export COMPOSE_PROJECT_NAME=$PROJECT
STARTED_AT=$SECONDS
PHASES=()
phase_start=$SECONDS
phase() {  # phase NAME: close the running phase under NAME
    PHASES+=("$(printf '%-34s %4d s' "$1" $((SECONDS - phase_start)))")
    phase_start=$SECONDS
}
print_timings() {
    ((${#PHASES[@]})) || return 0
    echo "compose-smoke: timings"
    printf '  %s\n' "${PHASES[@]}"
    printf '  %-34s %4d s\n' "total" $((SECONDS - STARTED_AT))
}

UP=0
cleanup() {
    local rc=$?
    set +e
    if ((UP)); then
        if ((rc != 0)); then
            say "FAILED; the stack's last log lines:"
            docker compose logs --no-color --tail 25 2>&1 | tail -150
        fi
        if ((KEEP)); then
            say "--keep: the stack stays up (project $PROJECT; docker compose -p $PROJECT down -v)"
        else
            phase_start=$SECONDS
            docker compose down -v --remove-orphans >/dev/null 2>&1
            phase "compose down -v"
        fi
    fi
    [ -f "$TMP/ca-copied" ] && rm -f "$CA_COPY"
    if [ -s "$TMP/dockerd.pid" ] && ((KEEP == 0)); then
        pid=$(cat "$TMP/dockerd.pid")
        say "stopping the dockerd it started (pid $pid)"
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    print_timings
    rm -f "$TMP/ca-copied" "$TMP/dockerd.pid"
    if ((rc != 0)) || [ -s "$TMP/backlog-math.csv" ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    if ((rc == 0)); then say "PASSED"; else say "FAILED (exit $rc)"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. engine and compose
bash deploy/docker-setup.sh --pid-file "$TMP/dockerd.pid"
phase "docker engine + compose plugin"

# 2. base images
bash deploy/base-images.sh
phase "base images"

# 3. an extra CA for the build's pip
if [ -n "$EXTRA_CA" ]; then
    [ -s "$EXTRA_CA" ] || { say "--extra-ca $EXTRA_CA: no such file" >&2; exit 2; }
    cp "$EXTRA_CA" "$CA_COPY" && touch "$TMP/ca-copied"
    say "the build's pip trusts $EXTRA_CA (as $CA_COPY, removed afterwards)"
elif ! find deploy/certs -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) | grep -q .; then
    probe='import urllib.request; urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=20)'
    if ! docker run --rm python:3.11-slim-bookworm python3 -c "$probe" >"$TMP/probe.log" 2>&1; then
        host_ca=$("$PYTHON" -c 'import ssl; print(ssl.get_default_verify_paths().cafile or "")' 2>/dev/null || true)
        [ -s "$host_ca" ] || host_ca=/etc/ssl/certs/ca-certificates.crt
        if grep -q CERTIFICATE_VERIFY_FAILED "$TMP/probe.log" && [ -s "$host_ca" ] \
            && "$PYTHON" -c "$probe" >/dev/null 2>&1; then
            cp "$host_ca" "$CA_COPY" && touch "$TMP/ca-copied"
            say "a container cannot verify pypi.org's certificate but this machine can: the build's pip trusts" \
                "this machine's CA bundle $host_ca for this run (deploy/certs/, removed afterwards)"
        else
            say "a container cannot reach https://pypi.org (the build's pip will fail):" >&2
            tail -3 "$TMP/probe.log" >&2
        fi
    fi
fi
phase "extra-CA probe"

# 4. build and start
if [ -z "$PORT" ]; then
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
export RLVR_COMPOSE_BIND=127.0.0.1 RLVR_COMPOSE_PORT=$PORT
URL=http://127.0.0.1:$PORT
UP=1
if [ -n "$(docker compose ps -aq 2>/dev/null)" ]; then
    say "removing what an earlier run of project $PROJECT left"
    docker compose down -v --remove-orphans >/dev/null 2>&1
fi
say "docker compose up --build --wait (project $PROJECT, gateway on $URL)"
docker compose up --build --wait --wait-timeout 300 --quiet-pull
phase "compose up --build --wait"
docker compose ps --format '  {{.Service}}: {{.Status}}'

# 5. the mixed batch
python3 deploy/compose_smoke.py mixed --url "$URL"
phase "mixed batch (5 verifiers)"

# 6. three math workers, one killed mid-batch
docker compose up -d --wait --wait-timeout 300 --scale math-worker=3 --no-recreate
phase "scale math-worker=3"
python3 deploy/compose_smoke.py kill --url "$URL" --project "$PROJECT" --backlog-csv "$BACKLOG_CSV"
phase "kill a math worker mid-batch"

# 7. the chart's scaling decision on the recorded curve
if [ -x .venv/bin/python ] && [ -x .venv/bin/helm ]; then
    say "keda_simulate: the chart's math ScaledObject (its pollingInterval) on the recorded curve"
    .venv/bin/python deploy/helm/keda_simulate.py --group math --curve "$BACKLOG_CSV" --helm .venv/bin/helm
    say "keda_simulate: the same settings polled every 1 s (the curve is shorter than one real poll)"
    .venv/bin/python deploy/helm/keda_simulate.py --group math --curve "$BACKLOG_CSV" --helm .venv/bin/helm --interval 1
else
    say "keda_simulate skipped: it needs .venv (make install) and .venv/bin/helm (bash deploy/k8s-tools.sh .venv)"
fi
phase "keda simulation"
