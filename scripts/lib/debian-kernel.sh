# debian-kernel.sh: fetch a Debian kernel package into a cache directory
# and the host tools the guest scripts share (apt-get, static busybox).
# Sourced by scripts/kvm-sandbox and scripts/linux-guest; bash only.
#
# The caller defines:
#   fail MESSAGE...   print MESSAGE and exit (never returns)
#   log MESSAGE...    progress message (may print nothing)
# and may set verbose=1 to see apt-get download's progress.
#
# Functions:
#   apt_update_once                       apt-get update, at most once per run
#   install_packages LOG PACKAGE...       apt-get install, all output into LOG
#   busybox_static                        path of a statically linked busybox
#   resolve_kernel_pkg META               e.g. linux-image-6.1.0-56-cloud-amd64
#   prepare_kernel CACHE META [MODULE...] download and unpack; sets
#       kernel_dir (holding vmlinuz, config and MODULE.ko for each MODULE,
#       e.g. kvm-amd) and kernel_version ("<package>_<version>").

apt_updated=${apt_updated:-0}
apt_update_once() {
  [ "$apt_updated" = 1 ] && return 0
  log "apt-get update"
  local out
  out=$(DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>&1) || { printf '%s\n' "$out" >&2; fail "apt-get update failed"; }
  apt_updated=1
}

# Output goes to LOG only: the callers' stdout and stderr may be a guest
# transcript (tests/linux keeps both), where apt's progress must never land.
install_packages() { # install_packages LOG PACKAGE...
  local log_file=$1; shift
  apt_update_once
  {
    echo "--- $(date -u '+%F %T') apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  } >>"$log_file" 2>&1 || { tail -n 20 "$log_file" >&2; fail "apt-get install $* failed (log: $log_file)"; }
}

busybox_static() { # path of a statically linked busybox, if any
  local b
  for b in /bin/busybox /usr/bin/busybox; do
    [ -x "$b" ] || continue
    # ldd fails ("not a dynamic executable") for static binaries.
    if ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return 0; fi
  done
  return 1
}

resolve_kernel_pkg() { # resolve_kernel_pkg META
  apt-cache depends "$1" 2>/dev/null \
    | sed -n 's/^ *Depends: *\(linux-image-[^ <>]*\)$/\1/p' | head -n1
}

# _kernel_complete DIR MODULE...: DIR holds a finished unpack with MODULEs.
_kernel_complete() {
  local d=$1 m; shift
  [ -f "$d/ready" ] && [ -f "$d/vmlinuz" ] || return 1
  for m in "$@"; do [ -f "$d/$m.ko" ] || return 1; done
  return 0
}

# _kernel_unpack DEB DIR MODULE...: vmlinuz, config and the modules from DEB.
_kernel_unpack() {
  local deb=$1 dir=$2 vmlinuz m f; shift 2
  rm -rf "$dir/x"; mkdir -p "$dir/x" || fail "cannot create $dir/x"
  dpkg-deb -x "$deb" "$dir/x" || fail "dpkg-deb -x $deb failed"
  vmlinuz=$(ls "$dir"/x/boot/vmlinuz-* 2>/dev/null | head -n1)
  [ -n "$vmlinuz" ] || fail "no boot/vmlinuz-* in $deb"
  cp "$vmlinuz" "$dir/vmlinuz" || fail "copy vmlinuz failed"
  for m in "$@"; do
    f=$(find "$dir/x/lib/modules" "$dir/x/usr/lib/modules" -name "$m.ko*" 2>/dev/null | head -n1)
    [ -n "$f" ] || fail "$m.ko not found in $deb"
    case $f in
      *.ko) cp "$f" "$dir/$m.ko" ;;
      *.ko.xz) xz -dc "$f" >"$dir/$m.ko" ;;
      *.ko.zst) zstd -qdc "$f" >"$dir/$m.ko" ;;
      *.ko.gz) gzip -dc "$f" >"$dir/$m.ko" ;;
      *) false ;;
    esac || fail "cannot unpack $f (missing xz/zstd?)"
  done
  cp "$dir"/x/boot/config-* "$dir/config" 2>/dev/null
  # The full extraction is large and no longer needed; the .deb stays.
  rm -rf "$dir/x"
  touch "$dir/ready"
}

prepare_kernel() { # prepare_kernel CACHE META [MODULE...]
  local cache=$1 meta=$2; shift 2
  mkdir -p "$cache" || fail "cannot create cache dir $cache"
  local pkg ver resolved=$cache/resolved-$meta
  # apt-cache takes about a second; reuse the last answer until apt's
  # package lists change.
  if [ -s "$resolved" ] && [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' \
        -newer "$resolved" 2>/dev/null | head -n1)" ]; then
    read -r kernel_version <"$resolved"
    kernel_dir="$cache/$kernel_version"
    if _kernel_complete "$kernel_dir" "$@"; then log "kernel $kernel_version (cached)"; return 0; fi
  fi
  pkg=$(resolve_kernel_pkg "$meta")
  if [ -z "$pkg" ]; then
    apt_update_once
    pkg=$(resolve_kernel_pkg "$meta")
  fi
  if [ -z "$pkg" ]; then
    # Offline: fall back to the newest complete kernel in the cache.
    local d
    d=$(ls -1d "$cache"/linux-image-*/ 2>/dev/null | sort -V | while read -r d; do
          _kernel_complete "$d" "$@" && echo "$d"; done | tail -n1)
    [ -n "$d" ] || fail "cannot resolve $meta with apt-cache, and no kernel in $cache"
    kernel_dir=${d%/}
    kernel_version=$(basename "$kernel_dir")
    log "apt-cache gave nothing; using cached $kernel_version"
    return 0
  fi
  ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n1)
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || fail "no installable version of $pkg"
  kernel_version="${pkg}_${ver}"
  kernel_dir="$cache/$kernel_version"
  if _kernel_complete "$kernel_dir" "$@"; then
    echo "$kernel_version" >"$resolved.$$" && mv -f "$resolved.$$" "$resolved"
    log "kernel $kernel_version (cached)"; return 0
  fi

  # Serialize downloads between concurrent runs. A lock file of its own:
  # callers may hold a flock on $cache/.lock around this call, and a second
  # open file description of the same file would wait for that one forever.
  local lock_fd
  exec {lock_fd}>"$cache/.download.lock" || fail "cannot open $cache/.download.lock"
  flock "$lock_fd" || fail "cannot lock $cache/.download.lock"
  if ! _kernel_complete "$kernel_dir" "$@"; then
    local deb
    deb=$(ls "$kernel_dir"/deb/*.deb 2>/dev/null | head -n1)
    if [ -z "$deb" ]; then
      log "downloading $pkg=$ver"
      rm -rf "$kernel_dir"; mkdir -p "$kernel_dir/deb" || fail "cannot create $kernel_dir"
      # apt-get download writes into the cwd; _apt cannot write there, which
      # only produces a harmless warning.
      local q=-qq; [ "${verbose:-0}" = 1 ] && q=-q
      (cd "$kernel_dir/deb" && apt-get download $q "$pkg=$ver" >&2 2> >(grep -v 'unsandboxed' >&2)) \
        || fail "apt-get download $pkg=$ver failed"
      deb=$(ls "$kernel_dir"/deb/*.deb 2>/dev/null | head -n1)
      [ -n "$deb" ] || fail "apt-get download produced no .deb for $pkg"
    fi
    rm -f "$kernel_dir/ready"
    _kernel_unpack "$deb" "$kernel_dir" "$@"
  fi
  flock -u "$lock_fd"; exec {lock_fd}>&-
  echo "$kernel_version" >"$resolved.$$" && mv -f "$resolved.$$" "$resolved"
  log "kernel $kernel_version"
}
