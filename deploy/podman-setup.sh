#!/usr/bin/env bash
# A container engine for rlvr_sandbox.container.ContainerSandbox on a machine without Docker:
# Debian's podman with the runc runtime, serving the Docker API on a unix socket, and a runtime
# image (python3, gcc/g++, node) imported from this machine's own files (nothing is pulled).
#
# Idempotent: run it again and it only does what is missing. Needs root.
#   deploy/podman-setup.sh            install, configure, import the image, start the API service
#   deploy/podman-setup.sh --rebuild  re-import the image even if it exists
# Then: export RLVR_DOCKER_HOST=unix:///run/podman/podman.sock (the test reads it; it is also the default)
#
# Environment: RLVR_SANDBOX_IMAGE (default rlvr-sandbox-runtime:local), RLVR_PODMAN_SOCKET
# (default /run/podman/podman.sock), RLVR_IMAGE_PACKAGES (the Debian packages whose installed files
# make up the image, with what they depend on).
set -euo pipefail

IMAGE="${RLVR_SANDBOX_IMAGE:-rlvr-sandbox-runtime:local}"
SOCKET="${RLVR_PODMAN_SOCKET:-/run/podman/podman.sock}"
PACKAGES="${RLVR_IMAGE_PACKAGES:-dash coreutils python3 gcc g++ nodejs}"
LOG=/var/log/rlvr-podman-service.log
REBUILD=0
[[ "${1:-}" == "--rebuild" ]] && REBUILD=1

say() { echo "podman-setup: $*"; }
[[ $(id -u) == 0 ]] || { echo "podman-setup: run as root" >&2; exit 1; }

# 1. packages: the engine, the runtime (crun fails on this machine's cgroup layout), and the
#    programs the image is made of
missing=()
for cmd in podman:podman runc:runc python3:python3 gcc:gcc g++:g++ node:nodejs curl:curl; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd#*:}")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 2. engine settings: runc; cgroupfs where systemd does not run the machine; file events; default
#    nofile/nproc limits below this machine's hard limits (podman's own defaults exceed them here, and
#    runc then fails with "error setting rlimit type 7: operation not permitted")
conf=/etc/containers/containers.conf
mkdir -p /etc/containers
if ! grep -qs '^runtime *= *"runc"' "$conf" || ! grep -qs '^default_ulimits' "$conf"; then
    say "writing $conf"
    [[ -f $conf ]] && cp "$conf" "$conf.rlvr-backup"
    manager=cgroupfs
    [[ -d /run/systemd/system ]] && manager=systemd
    nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
    [[ $nofile == unlimited || $nofile -gt 16384 ]] && nofile=16384
    [[ $nproc == unlimited || $nproc -gt 16384 ]] && nproc=16384
    cat >"$conf" <<EOF
# written by rlvr-stack deploy/podman-setup.sh
[containers]
log_driver = "k8s-file"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "$manager"
events_logger = "file"
EOF
fi

# 3. the runtime image: the installed files of $PACKAGES and everything they depend on,
#    without documentation, plus /bin -> usr/bin style links, a passwd, /work and /tmp
image_exists() { podman image exists "$IMAGE"; }
if ((REBUILD)) || ! image_exists; then
    say "building $IMAGE from this machine's packages: $PACKAGES"
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    # shellcheck disable=SC2086
    apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances $PACKAGES 2>/dev/null | grep -v '^[ <]' | sort -u >"$stage/packages"
    xargs -a "$stage/packages" dpkg-query -L 2>/dev/null \
        | grep -Ev '^/usr/share/(doc|man|info|locale|lintian|bug)(/|$)|^/(\.|bin|sbin|lib|lib64)$|^/var/|^[^/]' \
        | sed -E 's#^/(bin|sbin|lib|lib64)/#/usr/\1/#' | sort -u \
        | while IFS= read -r path; do
            if [[ -e $path || -L $path ]]; then printf '%s\n' "${path#/}"; fi
        done >"$stage/files"
    # the alternatives links (cc, c++, …) and the linker cache
    find /etc/alternatives -maxdepth 1 -type l -printf 'etc/alternatives/%f\n' >>"$stage/files"
    echo etc/ld.so.cache >>"$stage/files"
    mkdir -p "$stage/root/etc" "$stage/root/work" "$stage/root/tmp"
    chmod 1777 "$stage/root/tmp" "$stage/root/work"
    for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/root/$d"; done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'sandbox:x:10000:10000:sandbox:/work:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$stage/root/etc/passwd"
    printf 'root:x:0:\nsandbox:x:10000:\nnogroup:x:65534:\n' >"$stage/root/etc/group"
    printf 'passwd: files\ngroup: files\nhosts: files\n' >"$stage/root/etc/nsswitch.conf"
    printf '127.0.0.1 localhost\n' >"$stage/root/etc/hosts"
    tar -c --no-recursion -C / -T "$stage/files" -C "$stage/root" bin sbin lib lib64 etc/passwd etc/group \
        etc/nsswitch.conf etc/hosts work tmp \
        | podman import -q --change 'CMD ["/bin/sh"]' --change 'WORKDIR /work' - "$IMAGE" >/dev/null
    rm -rf "$stage"
    trap - EXIT
    say "imported $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
else
    say "$IMAGE is there"
fi

# 4. the Docker API on a unix socket
api_answers() { curl -fsS --max-time 3 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; }
if ! api_answers; then
    say "starting podman system service on unix://$SOCKET (log: $LOG)"
    mkdir -p "$(dirname "$SOCKET")"
    rm -f "$SOCKET"
    # conmon, which the service starts, writes files (an "oom" marker) in its working directory
    (cd "$(dirname "$SOCKET")" \
        && exec setsid nohup podman system service --time=0 "unix://$SOCKET" >>"$LOG" 2>&1 </dev/null) &
    for _ in $(seq 50); do api_answers && break; sleep 0.2; done
    api_answers || { echo "podman-setup: the API service did not answer, see $LOG" >&2; exit 1; }
fi
say "ready: DOCKER_HOST=unix://$SOCKET image=$IMAGE"
