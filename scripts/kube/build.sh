#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from Debian's
# `kubernetes` source package (upstream 1.20 with vendored modules), offline, and
# caches them. No container image is needed. Idempotent: a cached build is reused.
#
#   FF_KUBE_CACHE   where binaries go (default ~/.cache/fleetforge/kube)
set -euo pipefail

CACHE="${FF_KUBE_CACHE:-$HOME/.cache/fleetforge/kube}"
BIN="$CACHE/bin"
want=(kube-apiserver kube-controller-manager kube-scheduler)

have_all() { for b in "${want[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done; }
if have_all; then echo "kube binaries cached in $BIN" >&2; exit 0; fi

SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
need=()
command -v go >/dev/null || need+=(golang-go)
command -v rsync >/dev/null || need+=(rsync)
command -v etcd >/dev/null || need+=(etcd-server)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
  echo "installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# A private apt tree whose deb-src entries mirror the machine's own deb entries,
# so no system configuration changes and no host name is hard-coded here.
APT="$CACHE/apt"
mkdir -p "$APT/sources.list.d" "$APT/lists/partial" "$APT/cache/archives/partial"
: >"$APT/sources.list.d/src.sources"
for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  sed -e 's/^Types:.*$/Types: deb-src/' "$f" >>"$APT/sources.list.d/src.sources"
  echo >>"$APT/sources.list.d/src.sources"
done
: >"$APT/sources.list"
if [[ -f /etc/apt/sources.list ]]; then
  sed -n 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list >"$APT/sources.list"
fi
aptopts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/sources.list.d"
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Debug::NoLocking=1")

SRC="$CACHE/src"
if ! compgen -G "$SRC/kubernetes-*/Makefile" >/dev/null; then
  apt-get "${aptopts[@]}" update -qq
  rm -rf "$SRC" && mkdir -p "$SRC"
  (cd "$SRC" && apt-get "${aptopts[@]}" source -qq kubernetes)
fi
TREE=$(dirname "$(compgen -G "$SRC/kubernetes-*/Makefile" | head -1)")
echo "building in $TREE" >&2

export GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on GOTOOLCHAIN=local
cd "$TREE"
make generated_files >/dev/null
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >/dev/null
mkdir -p "$BIN"
for b in "${want[@]}"; do
  install -m 0755 "$(find _output -type f -name "$b" -perm -u+x | head -1)" "$BIN/$b"
done
echo "kube binaries built into $BIN" >&2
