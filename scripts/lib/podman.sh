# shellcheck shell=bash
# Podman on our machines (sourced, not executed), shared by scripts/fresh-check and
# scripts/image-check. There is no Docker engine and no registry here (docs/architecture.md §9):
# images are built and run with Debian's rootful podman, configured by scripts/lib/containers.conf,
# from Debian 12 base images made with debootstrap + `podman import`.

PODMAN_BASE_TMP=""

# podman_setup [PACKAGE...]: installs podman, runc, debootstrap and PACKAGEs quietly when missing
# (as scripts/deps does; needs root) and points podman at scripts/lib/containers.conf, unless the
# caller set CONTAINERS_CONF.
podman_setup() {
  local missing=() tool
  for tool in podman runc debootstrap "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}
}

# podman_base_image [--include PKGS] [--host-trust] [--slim SLIM_IMAGE] [--mirror URL]
#                   [--security-mirror URL] IMAGE LOG
# Makes IMAGE: `debootstrap --variant=minbase bookworm` (plus the comma-separated PKGS) from URL
# (default http://deb.debian.org/debian, the mirror our machines use), with the suites of a
# standard installation in sources.list (bookworm, -updates, -security from the security mirror),
# a policy-rc.d that keeps package scripts from starting services (as Debian's official images,
# and our machines, have), no apt lists or archives; then `podman import`.
#   --host-trust       also trust this machine's local CAs (/usr/local/share/ca-certificates) and
#                      copy its npmrc: our machines reach the npm registry through a TLS proxy
#                      (a machine setting, not the project's). Never for an image that ships.
#   --slim SLIM_IMAGE  also makes SLIM_IMAGE from the same tree the way debian:12-slim is made:
#                      no documentation (but copyright files), man or info pages, or locales, and
#                      dpkg path excludes that keep packages installed later from adding them.
# debootstrap's output goes to LOG (its end is shown on failure). Until the function returns, the
# temporary tree is $PODMAN_BASE_TMP: the caller's EXIT trap runs podman_base_cleanup.
podman_base_image() {
  local include="" host_trust=0 slim="" mirror=http://deb.debian.org/debian
  local security_mirror=http://deb.debian.org/debian-security
  while [[ $1 == --* ]]; do
    case $1 in
      --include) include=$2; shift 2 ;;
      --host-trust) host_trust=1; shift ;;
      --slim) slim=$2; shift 2 ;;
      --mirror) mirror=$2; shift 2 ;;
      --security-mirror) security_mirror=$2; shift 2 ;;
      *) echo "podman_base_image: unknown option $1" >&2; return 2 ;;
    esac
  done
  local image=$1 logf=$2 rootfs
  PODMAN_BASE_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/coffer-base.XXXXXX")
  rootfs="$PODMAN_BASE_TMP/rootfs"
  local args=(--variant=minbase)
  [[ -z $include ]] || args+=("--include=$include")
  if ! debootstrap "${args[@]}" bookworm "$rootfs" "$mirror" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    echo "debootstrap failed; the whole output is in $logf" >&2
    return 1
  fi
  # The suites of a standard installation (debootstrap writes only the first).
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
  # With --network host a postgresql or etcd started by apt inside a container would take this
  # machine's 5432 / 2379.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  if ((host_trust)); then
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
      chroot "$rootfs" update-ca-certificates >>"$logf" 2>&1
    fi
    local f
    for f in /etc/npmrc /usr/etc/npmrc; do
      [[ -f $f ]] || continue
      mkdir -p "$rootfs${f%/*}"
      cp "$f" "$rootfs$f"
    done
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import -q --message "coffer: debootstrap minbase bookworm${include:+ + $include}" - "$image" >/dev/null
  if [[ -n $slim ]]; then
    # What debuerreotype does for the official -slim images.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -depth -type d -empty -delete
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$rootfs"/usr/share/{groff,info,linda,man}/* "$rootfs"/usr/share/lintian/overrides/*
    tar -C "$rootfs" -c . | podman import -q --message "coffer: debootstrap minbase bookworm${include:+ + $include}, slim" - "$slim" >/dev/null
  fi
  podman_base_cleanup
}

# podman_base_cleanup: removes podman_base_image's temporary tree, if any.
podman_base_cleanup() {
  [[ -n $PODMAN_BASE_TMP ]] || return 0
  # debootstrap may leave /proc or /sys mounted inside the tree when it fails: unmount first,
  # and never let rm cross into a mount.
  grep -o " $PODMAN_BASE_TMP/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$PODMAN_BASE_TMP"
  PODMAN_BASE_TMP=""
}
