#!/usr/bin/env bash
# The base images deploy/Dockerfile and docker-compose.yml name, for a machine that cannot pull them.
#
#   deploy/base-images.sh              for each image: keep it if present, else pull it, else build a stand-in
#   deploy/base-images.sh --rebuild    build the stand-ins again even if the tags exist
#
# A stand-in is a Debian bookworm root filesystem made with mmdebstrap (variant minbase, ~1 min, the two
# built side by side) and `docker import`ed under the upstream name, so the Dockerfile and the compose file
# stay the ones everybody else builds:
#
#   python:3.11-slim-bookworm   Debian's python3 (3.11) with venv and ensurepip, `python` → python3,
#                               ca-certificates, netbase. (Upstream's Python is a source build in /usr/local
#                               with a global pip; deploy/Dockerfile needs neither: it makes its own venv.)
#   redis:7-bookworm            Debian's redis-server and redis-cli (7.0); an entrypoint that, like upstream's,
#                               owns /data and drops to the redis user, and turns protected mode off (upstream
#                               compiles it off) so other containers can connect.
#
# Both carry the apt/dpkg settings of Debian's own Docker images (unsafe-io, no translations, no caches).
# A stand-in is labelled org.rlvr-stack.stand-in=true. Needs root and Debian/Ubuntu (apt installs mmdebstrap).
# Environment: RLVR_DEBIAN_MIRROR (default http://deb.debian.org/debian), RLVR_DEBIAN_SECURITY_MIRROR
# (default http://deb.debian.org/debian-security), RLVR_PULL_TIMEOUT_S (default 60).
set -euo pipefail

PYTHON_IMAGE=python:3.11-slim-bookworm
REDIS_IMAGE=redis:7-bookworm
SUITE=bookworm
MIRROR=${RLVR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${RLVR_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PULL_TIMEOUT_S=${RLVR_PULL_TIMEOUT_S:-60}
REBUILD=0
[ "${1:-}" = "--rebuild" ] && REBUILD=1

say() { echo "base-images: $*"; }
[ "$(id -u)" = 0 ] || { say "run as root (mmdebstrap)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { say "no Docker engine answers (deploy/docker-setup.sh starts one)" >&2; exit 1; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# files every stand-in gets: Debian's Docker-image apt/dpkg settings, and the redis entrypoint
mkdir -p "$work/files"
echo force-unsafe-io >"$work/files/dpkg-unsafe-io"
cat >"$work/files/apt-docker" <<'EOF'
// image builds: no package caches, compressed lists, no translations, autoremove what Suggests keeps
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
Acquire::Languages "none";
Apt::AutoRemove::SuggestsImportant "false";
EOF
cat >"$work/files/redis-entrypoint" <<'EOF'
#!/bin/sh
# rlvr-stack's stand-in for the redis image's entrypoint: options alone run redis-server; as root, /data is
# handed to the redis user and the server runs as that user; protected mode defaults to off (as upstream,
# whose build changes the default), and a --protected-mode given in the command still wins.
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
    shift
    conf=""
    case "${1:-}" in ""|-*) ;; *) conf=$1; shift ;; esac
    set -- redis-server ${conf:+"$conf"} --protected-mode no "$@"
    if [ "$(id -u)" = 0 ]; then
        find . \! -user redis -exec chown redis:redis '{}' +
        exec setpriv --reuid=redis --regid=redis --init-groups "$@"
    fi
fi
exec "$@"
EOF

# build_one TAG PACKAGES CHANGES... : mmdebstrap → docker import, log in $work/TAG.log
build_one() {
    local tag=$1 packages=$2
    shift 2
    local changes=(--change "LABEL org.rlvr-stack.stand-in=true" --change "ENV LANG=C.UTF-8")
    local c
    for c in "$@"; do changes+=(--change "$c"); done
    local log="$work/${tag//[:\/]/_}.log"
    local hooks=(
        --customize-hook="upload $work/files/dpkg-unsafe-io /etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
        --customize-hook="upload $work/files/apt-docker /etc/apt/apt.conf.d/docker-image"
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/tmp/*'
    )
    if [ "$tag" = "$REDIS_IMAGE" ]; then
        hooks+=(
            --customize-hook="upload $work/files/redis-entrypoint /usr/local/bin/docker-entrypoint.sh"
            --customize-hook='chmod 0755 "$1"/usr/local/bin/docker-entrypoint.sh; mkdir -p "$1"/data'
            --customize-hook='chroot "$1" chown redis:redis /data'
        )
    fi
    local opt=()
    [ -d /usr/share/mmdebstrap/hooks/eatmydata ] && opt+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
    {
        mmdebstrap --variant=minbase --include="$packages" --dpkgopt=force-unsafe-io "${opt[@]}" \
            --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            "${hooks[@]}" \
            "$SUITE" - "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
            "deb $SECURITY_MIRROR $SUITE-security main" \
            | docker import "${changes[@]}" - "$tag"
    } >"$log" 2>&1
}

todo=()
for tag in "$PYTHON_IMAGE" "$REDIS_IMAGE"; do
    if ((REBUILD == 0)) && have "$tag"; then
        say "$tag is there$(docker image inspect --format '{{if index .Config.Labels "org.rlvr-stack.stand-in"}} (a local stand-in){{end}}' "$tag")"
        continue
    fi
    if ((REBUILD == 0)) && timeout "$PULL_TIMEOUT_S" docker pull -q "$tag" >/dev/null 2>&1; then
        say "pulled $tag"
        continue
    fi
    todo+=("$tag")
done
((${#todo[@]})) || exit 0

if ! command -v mmdebstrap >/dev/null 2>&1; then
    say "installing mmdebstrap (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap eatmydata >/dev/null
fi

start=$SECONDS
say "cannot pull ${todo[*]}: building stand-ins with mmdebstrap ($SUITE from $MIRROR)"
pids=()
for tag in "${todo[@]}"; do
    case $tag in
        "$PYTHON_IMAGE")
            build_one "$tag" ca-certificates,netbase,python3,python3-venv,python-is-python3 'CMD ["python3"]' &
            ;;
        "$REDIS_IMAGE")
            build_one "$tag" ca-certificates,redis-server,redis-tools \
                'WORKDIR /data' 'VOLUME /data' 'EXPOSE 6379' \
                'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["redis-server"]' &
            ;;
    esac
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        tag=${todo[$i]}
        say "building $tag failed; the end of its log:" >&2
        tail -20 "$work/${tag//[:\/]/_}.log" >&2
        failed=1
    fi
done
((failed == 0)) || exit 1
for tag in "${todo[@]}"; do
    say "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
done
say "stand-ins built in $((SECONDS - start)) s"
