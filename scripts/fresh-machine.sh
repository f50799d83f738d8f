#!/usr/bin/env bash
# Proves the README's two commands on a fresh machine: a minimal Debian bookworm, made with debootstrap, run
# as a container with its own network, into which the repository is cloned and `make demo` then `make test`
# are run as root, exactly as the README says. Each is logged to a file; the script prints the commit, each
# command's exit status and wall time, make demo's table, and the test suite's summary and skip groups.
#
#   scripts/fresh-machine.sh [REPO]         REPO: a path or a URL to clone; default: the checkout this script
#                                           lives in, at its committed HEAD (git clone: uncommitted changes
#                                           are NOT included)
#   make fresh-machine                      the same, for this checkout
#   options:
#     --rebuild        make the Debian root again (it is cached in $RLVR_FRESH_CACHE, default /var/cache/rlvr-fresh)
#     --run 'CMD'      run CMD (bash, in the clone) instead of `make demo` and `make test`; may be repeated
#     --keep           leave the container and its engine running at the end (--stop removes them)
#     --stop           stop what a --keep run left running, and exit
#     --logs DIR       where the logs go (default: $RLVR_FRESH_CACHE/logs/<UTC time>)
#   The commands inside run at this script's own niceness: `nice -n 19 scripts/fresh-machine.sh` on a busy machine.
#
# What it needs: Linux x86_64, root, debootstrap, a Docker engine (Debian's docker.io: dockerd, containerd,
# runc), iproute2 and iptables, and network access to the package registries (Debian's, PyPI and npm's).
# Missing debootstrap, docker.io, iptables or iproute2 are installed with apt-get. About 10 GB of disk under the cache directory
# while it runs (the Debian root and its image stay cached: about 0.6 GB).
#
# The fresh system is what a newcomer has: Debian bookworm's minbase variant plus git, make, python3 and
# ca-certificates; nothing the project's own set-up installs (bubblewrap, Redis, compilers, python3-venv, npm):
# `make` has to install those itself (scripts/system-deps.sh, deploy/k8s-tools.sh).
#
# Why a container and not a chroot: the container has its own network namespace, so the host's services
# (a Redis on 127.0.0.1:6379, say) are not there and the project's set-up has to start its own, as it would on
# a newcomer's machine; its processes, mounts and /tmp are its own, and nothing is left behind. The engine is a
# private dockerd (own socket, data root and exec root under the cache and /run/rlvr-fresh, own bridge
# rlvrfresh0 with its own NAT rule, no iptables chains of its own), so it neither uses nor disturbs another
# Docker engine on the machine; it is stopped, and the bridge and rules removed, when the script ends (IP
# forwarding, which it turns on, is turned back off unless another dockerd now runs and needs it). Like most
# containers, the fresh system has no IPv6, not even ::1; its /dev/shm is 2 GB (Docker's default is 64 MB).
# The container is started with --privileged (bubblewrap needs mount, user and pid namespaces, and the sandbox
# writable cgroups, as root has on a real machine). Where the host withholds a capability, so that --privileged
# cannot start (seen in a VM that withholds CAP_SYS_RESOURCE), it gets every capability the host has, no
# seccomp, AppArmor or /proc masking, and its cgroup hierarchies remounted read-write: the same, less that one.
#
# The host's registry settings, and nothing else, are carried into the fresh system, because the registries of
# a workplace may be reached through mirrors, proxies or a TLS-inspecting CA:
#   - apt: the host's sources (sources.list and sources.list.d/*.list|*.sources, the keyrings they name) and
#     the apt.conf.d files that say how the archive is reached (Acquire:: proxies, TLS, retries, a snapshot
#     mirror's Check-Valid-Until); debootstrap uses the host's Debian mirror;
#   - TLS: the host's locally added CAs (/usr/local/share/ca-certificates), then update-ca-certificates;
#   - pip: /etc/pip.conf, /etc/xdg/pip/, ~/.config/pip/pip.conf, ~/.pip/pip.conf, and the PIP_* variables;
#   - npm: the registry, cafile, proxy and strict-ssl keys of the host's npmrc files (no credentials);
#   - environment: PIP_*, npm_config_*, the *_proxy variables and the CA-bundle variables (SSL_CERT_FILE,
#     REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, ...).
#   Local directories those pip settings name (find-links such as a directory of wheels, file:// indexes, a
#   constraint file) are bind-mounted read-only at the same path. That is how `pip install torch==2.13.0`
#   finds the CPU wheel that lies on the disk of this project's development machines (find-links=/opt/wheels
#   there): the fresh system reads the same file and gets no other copy of it.
#
# Tests that cannot run on a newcomer's machine are reported, not hidden: `make test` runs as the README says
# (not RLVR_CI_SKIPS=strict), and the suite ends with its own "skipped groups" (one line per reason), which this
# script prints. A newcomer has no Docker engine and no compose plugin (the README's two commands install
# neither; .ci/run does), so the compose-file tests and the container-backend sandbox tests skip with their
# reasons; everything else, the bubblewrap sandbox and the queue tests against the Redis that `make` started
# included, runs.
set -euo pipefail

SELF_DIR=$(cd "$(dirname "$0")" && pwd)
CACHE=${RLVR_FRESH_CACHE:-/var/cache/rlvr-fresh}
SUITE=bookworm
PACKAGES=git,make,python3,ca-certificates
IMAGE=rlvr-fresh/debian:$SUITE-minbase
BASE_TAR=$CACHE/$SUITE-minbase.tar
RUN_DIR=/run/rlvr-fresh
SOCK=$RUN_DIR/docker.sock
BRIDGE=rlvrfresh0
SUBNET_GW=${RLVR_FRESH_SUBNET:-10.199.77.1/24}   # the bridge's address: the container's gateway
CLONE=/root/rlvr-stack
NICE=$(nice)

say() { echo "fresh-machine: $*"; }
die() { echo "fresh-machine: $*" >&2; exit 1; }

REBUILD=0 KEEP=0 STOP=0 LOGS="" SOURCE="" RUNS=()
while (($#)); do
    case $1 in
        --rebuild) REBUILD=1; shift ;;
        --keep) KEEP=1; shift ;;
        --stop) STOP=1; shift ;;
        --run) RUNS+=("$2"); shift 2 ;;
        --logs) LOGS=$2; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) SOURCE=$1; shift ;;
    esac
done
((${#RUNS[@]})) || RUNS=("make demo" "make test")
SOURCE=${SOURCE:-$(cd "$SELF_DIR/.." && pwd)}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, a Docker engine, a bridge and a NAT rule need it)"
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "made for Linux x86_64, this is $(uname -s)-$(uname -m)"
export DOCKER_HOST=unix://$SOCK
subnet=$(python3 -c "import ipaddress, sys; print(ipaddress.ip_interface(sys.argv[1]).network)" "$SUBNET_GW")

# ---- the private engine and its network ------------------------------------------------------------------
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }
STARTED_ENGINE=0 CONTAINER="" SETTINGS=""
nat_rules() {  # the rules, one per line, as arguments to iptables -t TABLE
    echo "nat POSTROUTING -s $subnet ! -o $BRIDGE -j MASQUERADE"
    echo "filter FORWARD -i $BRIDGE -j ACCEPT"
    echo "filter FORWARD -o $BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
}
network_up() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
        ip addr add "$SUBNET_GW" dev "$BRIDGE"
    fi
    ip link set "$BRIDGE" up
    local table chain rest
    while read -r table chain rest; do
        # shellcheck disable=SC2086
        iptables -t "$table" -C "$chain" $rest 2>/dev/null || iptables -t "$table" -I "$chain" $rest
    done < <(nat_rules)
    [ -f "$RUN_DIR/ip_forward.before" ] || sysctl -n net.ipv4.ip_forward >"$RUN_DIR/ip_forward.before"
    sysctl -qw net.ipv4.ip_forward=1
}
network_down() {
    local table chain rest
    while read -r table chain rest; do
        # shellcheck disable=SC2086
        while iptables -t "$table" -C "$chain" $rest 2>/dev/null; do iptables -t "$table" -D "$chain" $rest; done
    done < <(nat_rules)
    if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
    # IP forwarding back as it was, unless another engine now runs (it needs it, and dockerd never resets it)
    if [ -f "$RUN_DIR/ip_forward.before" ]; then
        pgrep -x dockerd >/dev/null || sysctl -qw net.ipv4.ip_forward="$(cat "$RUN_DIR/ip_forward.before")"
        rm -f "$RUN_DIR/ip_forward.before"
    fi
}
engine_up() {
    mkdir -p "$RUN_DIR" "$CACHE/docker"
    local missing=()  # what the engine and its network need; docker.io brings containerd and runc
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    command -v ip >/dev/null 2>&1 || missing+=(iproute2)
    ((${#missing[@]} == 0)) || install_host_packages "${missing[@]}"
    network_up
    engine_answers && { say "using the private engine already running on $SOCK"; return; }
    say "starting a private dockerd (log: $CACHE/dockerd.log)"
    setsid dockerd --host "$DOCKER_HOST" --data-root "$CACHE/docker" --exec-root "$RUN_DIR/exec" \
        --pidfile "$RUN_DIR/dockerd.pid" --bridge "$BRIDGE" --iptables=false --ip6tables=false \
        >>"$CACHE/dockerd.log" 2>&1 </dev/null 9>&- &
    STARTED_ENGINE=$!
    for _ in $(seq 120); do engine_answers && return; sleep 0.25; done
    die "dockerd did not answer within 30 s; see $CACHE/dockerd.log"
}
engine_down() {  # the private dockerd (its pid file's, else the one this run started) and its network
    local pid
    pid=$(cat "$RUN_DIR/dockerd.pid" 2>/dev/null || echo "${STARTED_ENGINE#0}")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    network_down
}
cleanup() {
    local rc=$?
    [ -n "$SETTINGS" ] && rm -rf "$SETTINGS"
    if ((KEEP)); then
        [ -n "$CONTAINER" ] && say "kept: DOCKER_HOST=$DOCKER_HOST docker exec -it $CONTAINER bash  (then: $0 --stop)"
        exit "$rc"
    fi
    [ -n "$CONTAINER" ] && docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
    if ((STARTED_ENGINE)); then engine_down || true; fi
    exit "$rc"
}

install_host_packages() {
    command -v apt-get >/dev/null 2>&1 || die "missing $*: install them"
    say "installing $* on this host (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -n 9 || die "another fresh-machine run holds $CACHE/lock"

if ((STOP)); then
    for c in $(engine_answers && docker ps -aq --filter label=rlvr-fresh || true); do docker rm -f "$c" >/dev/null; done
    engine_down
    say "stopped"
    exit 0
fi

# ---- the source ------------------------------------------------------------------------------------------
SOURCE_MOUNT=()
if [ -d "$SOURCE" ]; then
    SOURCE=$(cd "$SOURCE" && pwd)
    git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1 || die "$SOURCE is not a git repository"
    dirty=$(git -C "$SOURCE" status --porcelain --untracked-files=no | wc -l)
    ((dirty == 0)) || say "note: $dirty uncommitted change(s) in $SOURCE are not part of the clone"
    SOURCE_MOUNT=(-v "$SOURCE:/mnt/source:ro")
    CLONE_FROM=/mnt/source
else
    CLONE_FROM=$SOURCE
fi

# ---- the registries' settings from this host ---------------------------------------------------------------
host_mirror() {  # the host's Debian mirror for $SUITE (deb822 or one-line sources), else Debian's own
    python3 - "$SUITE" <<'PY'
import glob, re, sys
suite = sys.argv[1]
found = []
files = [f for f in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")) if f.endswith((".list", ".sources"))]
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([\w-]+):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and suite in fields.get("Suites", "").split() \
                    and fields.get("Enabled", "yes") != "no":
                found += fields.get("URIs", "").split()
    else:
        for line in text.splitlines():
            m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m and m.group(2) == suite:
                found.append(m.group(1))
print(found[0] if found else "http://deb.debian.org/debian")
PY
}
MOUNTS=()
ENVS=()
collect_settings() {
    SETTINGS=$(mktemp -d)
    local f d
    mkdir -p "$SETTINGS/etc/apt/sources.list.d" "$SETTINGS/etc/apt/apt.conf.d" "$SETTINGS/usr/local/share/ca-certificates"
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$SETTINGS/etc/apt/"
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        cp "$f" "$SETTINGS/etc/apt/sources.list.d/"
        # the keyrings the sources name, where they are files outside Debian's own keyring package
        for d in $(grep -hoE '(signed-by=|Signed-By:\s*)/[^] ]+' "$f" | sed -E 's/^(signed-by=|Signed-By:\s*)//'); do
            [ -f "$d" ] && mkdir -p "$SETTINGS$(dirname "$d")" && cp "$d" "$SETTINGS$d"
        done
    done
    for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
        # how to reach the archive: proxies, TLS, retries, a snapshot's Valid-Until (not indexes, languages, ...)
        [ -f "$f" ] && grep -qE 'Acquire::(http|https|ftp|socks|Retries|Check-Valid-Until|Check-Date)' "$f" && cp "$f" "$SETTINGS$f"
    done
    cp -r /usr/local/share/ca-certificates/. "$SETTINGS/usr/local/share/ca-certificates/" 2>/dev/null || true
    # pip: the global and user configuration files (the user's land in root's home: the commands run as root)
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$SETTINGS/etc/"
    [ -d /etc/xdg/pip ] && mkdir -p "$SETTINGS/etc/xdg" && cp -r /etc/xdg/pip "$SETTINGS/etc/xdg/"
    for f in .config/pip/pip.conf .pip/pip.conf; do
        [ -f "$HOME/$f" ] && mkdir -p "$SETTINGS/root/$(dirname "$f")" && cp "$HOME/$f" "$SETTINGS/root/$f"
    done
    # npm: only where the registry is and how to trust it (no tokens)
    local npmrc=""
    for f in /etc/npmrc /usr/etc/npmrc /usr/local/etc/npmrc "$HOME/.npmrc"; do
        [ -f "$f" ] && npmrc+=$(grep -E '^\s*(registry|@[^=]*:registry|cafile|ca|proxy|https-proxy|noproxy|strict-ssl)\s*=' "$f" || true)$'\n'
    done
    [ -n "${npmrc//[$'\n']/}" ] && printf '%s' "$npmrc" | awk 'NF && !seen[$0]++' >"$SETTINGS/etc/npmrc"
    # the environment: registry and trust variables only
    local name
    while IFS='=' read -r name _; do
        case $name in
            PIP_*|npm_config_*|NPM_CONFIG_*|http_proxy|https_proxy|no_proxy|HTTP_PROXY|HTTPS_PROXY|NO_PROXY|\
            SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|NODE_EXTRA_CA_CERTS|GIT_SSL_CAINFO)
                ENVS+=(-e "$name") ;;
        esac
    done < <(env)
    # local paths pip's settings name (find-links, file:// indexes, constraints): read-only, at the same path
    local value path
    for value in $(python3 -m pip config list 2>/dev/null | sed -E "s/^[^=]*=//; s/^'//; s/'$//"); do
        path=${value#file://}
        case $path in /*) ;; *) continue ;; esac
        [ -e "$path" ] || continue
        [ "$(basename "$path")" = simple ] && path=$(dirname "$path")   # an index's files lie beside simple/
        case $path in /etc/pip.conf|/etc/xdg/pip|/etc/xdg/pip/*|/etc/ssl/*|/usr/local/share/ca-certificates*) continue ;; esac
        MOUNTS+=(-v "$path:$path:ro")
    done
}

# ---- the Debian root, cached ------------------------------------------------------------------------------
build_root() {
    command -v debootstrap >/dev/null 2>&1 || install_host_packages debootstrap
    local mirror root
    mirror=${RLVR_FRESH_MIRROR:-$(host_mirror)}
    root=$CACHE/rootfs.new
    rm -rf "$root"
    say "debootstrap --variant=minbase --include=$PACKAGES $SUITE from $mirror (about a minute)"
    local t0=$SECONDS
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed; see $CACHE/debootstrap.log"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$BASE_TAR.new" .
    mv "$BASE_TAR.new" "$BASE_TAR"
    rm -rf "$root"
    printf 'made %s by debootstrap --variant=minbase --include=%s %s from %s\n' \
        "$(date -u +%FT%TZ)" "$PACKAGES" "$SUITE" "$mirror" >"$BASE_TAR.txt"
    say "root made in $((SECONDS - t0)) s: $BASE_TAR"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if ((REBUILD)) || [ ! -f "$BASE_TAR" ]; then
    build_root
    REBUILD=1
fi
engine_up
if ((REBUILD)) || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
    docker import --message "$(cat "$BASE_TAR.txt" 2>/dev/null || echo "$SUITE minbase")" "$BASE_TAR" "$IMAGE" >/dev/null
    say "imported $IMAGE"
fi
say "root: $(cat "$BASE_TAR.txt" 2>/dev/null || echo "$BASE_TAR")"
collect_settings

# ---- the fresh machine --------------------------------------------------------------------------------------
CONTAINER=rlvr-fresh-$$
run_container() {
    docker run -d --name "$CONTAINER" --label rlvr-fresh --hostname fresh --init --shm-size 2g \
        "$@" "${SOURCE_MOUNT[@]}" "${MOUNTS[@]}" "${ENVS[@]}" "$IMAGE" sleep infinity >/dev/null
}
if ! run_container --privileged 2>"$SETTINGS/run.err"; then
    docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
    grep -q 'caps' "$SETTINGS/run.err" || { cat "$SETTINGS/run.err" >&2; die "the container did not start"; }
    missing=$(python3 - <<'PY'
import re
have = int(re.search(r"CapBnd:\s*([0-9a-f]+)", open("/proc/self/status").read()).group(1), 16)
names = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
         "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
         "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
         "CHECKPOINT_RESTORE"]
print(" ".join(n for i, n in enumerate(names) if not have >> i & 1))
PY
)
    say "--privileged cannot start here (this host withholds: ${missing:-?}); every other capability instead"
    drops=()
    for cap in $missing; do drops+=(--cap-drop "$cap"); done
    run_container --cap-add ALL "${drops[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --security-opt systempaths=unconfined
    # what --privileged would have given: a writable /sys and writable cgroup hierarchies
    docker exec "$CONTAINER" sh -c 'mount -o remount,rw /sys; for m in /sys/fs/cgroup /sys/fs/cgroup/*; do
        mountpoint -q "$m" && mount -o remount,bind,rw "$m"; done; true'
fi
# the host's registry settings replace the ones debootstrap wrote
docker exec "$CONTAINER" sh -c 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*'
docker cp "$SETTINGS/." "$CONTAINER:/"
docker exec "$CONTAINER" update-ca-certificates >"$SETTINGS/ca.log" 2>&1 || { cat "$SETTINGS/ca.log" >&2; die "update-ca-certificates failed"; }
say "fresh machine: $CONTAINER ($(docker exec "$CONTAINER" sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), \
python $(docker exec "$CONTAINER" python3 -c 'import platform; print(platform.python_version())'), \
no Redis on 127.0.0.1:6379: $(docker exec "$CONTAINER" python3 -c '
import socket
try:
    socket.create_connection(("127.0.0.1", 6379), timeout=2); print("WRONG, one answers")
except OSError: print("right")')"
docker exec "$CONTAINER" git clone --quiet --no-hardlinks "$CLONE_FROM" "$CLONE"
commit=$(docker exec "$CONTAINER" git -C "$CLONE" log -1 --format='%H %s')
say "cloned $SOURCE at $commit"

[ -n "$LOGS" ] || LOGS=$CACHE/logs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$LOGS"
echo "$commit" >"$LOGS/commit"
RESULTS=()
status=0
n=0
for cmd in "${RUNS[@]}"; do
    n=$((n + 1))
    log=$LOGS/$n-$(echo "$cmd" | tr -c 'A-Za-z0-9\n' '-' | sed -E 's/-+/-/g; s/^-//' | cut -c1-40 | sed 's/-$//').log
    say "[$n] $cmd  (as root in $CLONE, nice $NICE; log: $log)"
    t0=$(date +%s)
    set +e
    docker exec -w "$CLONE" "$CONTAINER" nice -n "$NICE" bash -c "$cmd" >"$log" 2>&1
    rc=$?
    set -e
    wall=$(($(date +%s) - t0))
    ((rc == 0)) || status=1
    RESULTS+=("$(printf '%-40s exit %3d  %4dm%02ds  %s' "$cmd" "$rc" $((wall / 60)) $((wall % 60)) "$log")")
    say "[$n] exit $rc after ${wall}s"
    # make demo's table (from its header line), else the end of the log
    if grep -q '^item  *reward' "$log"; then sed -n '/^item  *reward/,$p' "$log" | sed -n '1,80p'
    elif ! grep -qE '(passed|failed|error).* in [0-9.]+s' "$log"; then tail -15 "$log"; fi
    # the test suite's failures, skip groups and closing line
    grep -E '^(FAILED|ERROR) ' "$log" | sed -n '1,40p' || true
    if grep -q ' skipped groups ' "$log"; then
        echo "skipped groups:"
        sed -n '/ skipped groups /,$p' "$log" | grep -E '^ *[0-9]+ skipped: |^RLVR_CI_SKIPS' || true
    fi
    closing=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error).* in [0-9.]+s' "$log" | tail -1 || true)
    [ -z "$closing" ] || { echo "$closing"; RESULTS+=("    $closing"); }
done

echo
say "summary ($(date -u +%FT%TZ)); commit $commit"
for r in "${RESULTS[@]}"; do echo "  $r"; done
exit "$status"
