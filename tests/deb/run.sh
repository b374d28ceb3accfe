#!/usr/bin/env bash
# The Debian package: lintian finds no error in it, systemd-analyze accepts
# its unit, and it installs with dpkg into a fresh minimal Debian root (made
# by debootstrap, with the runtime libraries it depends on), where
# `orgsync --version` runs and one organization is created, served and
# pushed to (chroot).
#   tests/deb/run.sh build/orgsync_VERSION_ARCH.deb
# The root is cached as a tarball in ORGSYNC_TEST_CACHE (default
# ~/.cache/orgsync), remade after a week. Needs root (debootstrap, chroot).
# Ends with "deb: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

deb=$(realpath "${1:?usage: tests/deb/run.sh PACKAGE.deb}")
cache=${ORGSYNC_TEST_CACHE:-${HOME:-/root}/.cache/orgsync}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/orgsync-deb.XXXXXX") || exit 1
ROOT=$TMP/root
SERVER=
passed=0
failed=0

cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
	rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

# check NAME COMMAND...: one case; its output is shown when it fails.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok - deb: $name"
		passed=$((passed + 1))
	else
		echo "not ok - deb: $name"
		sed 's/^/    | /' <<<"$out" | head -30
		failed=$((failed + 1))
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - deb: needs root (debootstrap, chroot)"
	exit 1
fi
for tool in lintian systemd-analyze debootstrap dpkg-deb; do
	command -v $tool >/dev/null || { echo "not ok - deb: no $tool (scripts/install-deps.sh deb)"; exit 1; }
done

lintian_clean() {
	local out
	out=$(lintian --fail-on error "$deb" 2>&1 | grep -v 'running with root privileges')
	echo "$out"
	! grep -q '^E:' <<<"$out"
}
check "lintian finds no error" lintian_clean

# systemd-analyze verify reads the unit inside the unpacked package, which
# has no systemd of its own: the targets it refers to come from this machine.
unit_verifies() {
	local v=$TMP/verify u out
	dpkg-deb -x "$deb" "$v" || return 1
	for u in sysinit.target basic.target multi-user.target network.target shutdown.target \
		sockets.target paths.target timers.target slices.target local-fs.target swap.target \
		system.slice -.slice; do
		[ -e "/lib/systemd/system/$u" ] && cp "/lib/systemd/system/$u" "$v/lib/systemd/system/"
	done
	out=$(systemd-analyze --man=no verify --root="$v" orgsync.service 2>&1) || { echo "$out"; return 1; }
	# Unknown keys and bad values are only warned about: any output fails.
	echo "$out"
	[ -z "$out" ]
}
check "systemd-analyze verify accepts orgsync.service" unit_verifies

# --- a fresh Debian root ----------------------------------------------------------------

suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
# The mirror apt uses here, for the same release.
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' |
	awk -v s="$suite" '$2 == s && $3 == "main" { print $1; exit }')
# The runtime libraries the package depends on, named from its Depends.
libs=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*//; s/ //g' | grep -v '^libc6$' |
	paste -sd, -)
tarball=$cache/$suite-minbase-$(echo "$libs" | md5sum | cut -c1-8).tar
mkdir -p "$cache"
if [ ! -s "$tarball" ] || [ -n "$(find "$tarball" -mtime +7)" ]; then
	echo "# debootstrap $suite (minbase, with $libs) from $mirror"
	t0=$(date +%s)
	if ! debootstrap --variant=minbase --include="$libs" "$suite" "$TMP/boot" "$mirror" \
		>"$TMP/debootstrap.log" 2>&1; then
		echo "not ok - deb: debootstrap failed"
		tail -20 "$TMP/debootstrap.log" | sed 's/^/    | /'
		exit 1
	fi
	tar -C "$TMP/boot" -cf "$tarball.new" . && mv "$tarball.new" "$tarball"
	rm -rf "$TMP/boot"
	echo "# debootstrap took $(($(date +%s) - t0)) s"
fi
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$tarball"

in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

cp "$deb" "$ROOT/tmp/orgsync.deb"
check "dpkg -i installs the package (its dependencies are there)" in_root dpkg -i /tmp/orgsync.deb
check "orgsync --version runs in the root" in_root orgsync --version
check "the files are where the package says" test -f "$ROOT/lib/systemd/system/orgsync.service" -a \
	-f "$ROOT/etc/default/orgsync" -a -f "$ROOT/usr/share/man/man1/orgsync.1.gz" -a \
	-f "$ROOT/usr/share/doc/orgsync/examples/orgsync-push.timer"

# One organization: created with the admin CLI, served, pushed to, in the root.
cp -r examples/current "$ROOT/tmp/org"
KEY=$(in_root orgsync org create acme --db sqlite:/tmp/orgsync.db 2>&1 |
	sed -n 's/^api key (shown once): //p')
# A plain command, not a function, in the background: it keeps none of the
# shell's descriptors open.
chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin orgsync serve --db sqlite:/tmp/orgsync.db \
	--listen 127.0.0.1:0 --quiet </dev/null >"$TMP/serve.out" 2>&1 &
SERVER=$!
PORT=
for ((i = 0; i < 100; i++)); do
	PORT=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$TMP/serve.out")
	[ -n "$PORT" ] && break
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT

smoke() {
	local out rc
	[ -n "$KEY" ] || { echo "org create printed no key"; return 1; }
	[ -n "$PORT" ] || { echo "serve did not start:"; cat "$TMP/serve.out"; return 1; }
	# Before API provisioning is activated, a push is refused: 5.
	in_root env ORGSYNC_API_KEY="$KEY" orgsync push --url "$BASE" --dir /tmp/org --dry-run
	rc=$?
	[ $rc -eq 5 ] || { echo "push before activation: exit $rc, not 5"; return 1; }
	curl -sf -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
		-d '{"provisioning":{"method":"api"}}' "$BASE/v1/settings" >/dev/null ||
		{ echo "PATCH /v1/settings failed"; return 1; }
	out=$(in_root env ORGSYNC_API_KEY="$KEY" orgsync push --url "$BASE" --dir /tmp/org --wait 2>&1)
	echo "$out"
	# The sample has a column that is no custom property of the new org: Warning (1).
	grep -q '^sync 1: Warning' <<<"$out" && grep -q 'members: 33 created' <<<"$out"
}
check "one organization: org create, serve, push --wait in the root" smoke

echo "deb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
