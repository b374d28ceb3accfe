#!/usr/bin/env bash
# Builds the Debian package of orgsync from a built tree, with dpkg-deb:
# the binary, the man page, the docs, orgsync.service and its defaults file,
# and the example push timer (packaging/).
#   make-deb.sh BIN OUTDIR     writes OUTDIR/orgsync_VERSION_ARCH.deb and
#                              prints its path
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:?usage: make-deb.sh BIN OUTDIR}
out=${2:?usage: make-deb.sh BIN OUTDIR}
version=$("$bin" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
root=$out/deb-root
doc=$root/usr/share/doc/orgsync

rm -rf "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$doc/examples" \
	"$root/lib/systemd/system" "$root/etc/default"
install -m 0755 "$bin" "$root/usr/bin/orgsync"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/orgsync"
gzip -9n <man/orgsync.1 >"$root/usr/share/man/man1/orgsync.1.gz"
install -m 0644 packaging/orgsync.service "$root/lib/systemd/system/orgsync.service"
install -m 0644 packaging/default "$root/etc/default/orgsync"
install -m 0644 packaging/copyright "$doc/copyright"
install -m 0644 packaging/orgsync-push.service packaging/orgsync-push.timer "$doc/examples/"
for f in README.md docs/*.md; do
	install -m 0644 "$f" "$doc/$(basename "$f")"
done
# Long documents compressed, as Debian policy asks.
find "$doc" -maxdepth 1 -name '*.md' -size +4k -exec gzip -9n {} +
{
	echo "orgsync ($version) unstable; urgency=medium"
	echo
	echo "  * Built from the orgsync source tree (make deb)."
	echo
	echo " -- orgsync maintainers <orgsync@example.org>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n >"$doc/changelog.gz"

# Depends: the packages of the shared libraries the binary links, as
# dpkg-shlibdeps finds them (it wants a debian/control to read).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: orgsync\n\nPackage: orgsync\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "$OLDPWD/$root/usr/bin/orgsync" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')

echo /etc/default/orgsync >"$root/DEBIAN/conffiles"
(cd "$root" && find usr lib etc -type f ! -path 'etc/*' -print0 | sort -z | xargs -0 md5sum) \
	>"$root/DEBIAN/md5sums"
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	-e "s/@DEPENDS@/$depends/" packaging/control.in >"$root/DEBIAN/control"
chmod -R u+rwX,go+rX,go-w "$root"

deb=$out/orgsync_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
