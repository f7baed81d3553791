#!/usr/bin/env bash
# Installs the real NBD clients and servers the end-to-end tests drive: nbdkit (reference server),
# libnbd's tools (nbdsh, nbdinfo, nbdcopy), qemu-utils (qemu-img, qemu-io, qemu-nbd), fio, and
# what the plugin and filter tests check their results with or serve from: sfdisk and sgdisk
# (partition tables), xz, gzip, bzip2, lzip, zstd (compressed images), nginx and sshd (the curl
# and ssh plugins' servers), certtool (TLS certificates), a C compiler and nbdkit's language
# plugins python, perl, lua and tcl (C-ABI plugins).
# qemu must be new enough to speak extended headers (8.2+): on Debian 12 it comes from
# bookworm-backports, which this script adds to apt's sources when it is missing.
# It does nothing when every tool is present; it needs root only when something is missing.
set -euo pipefail

need=(nbdkit nbdsh nbdinfo nbdcopy qemu-img qemu-io qemu-nbd fio
	sfdisk sgdisk xz gzip bzip2 lzip zstd nginx /usr/sbin/sshd certtool gcc)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
# nbdsh runs "python3 -m nbd": Debian's python3, not one a version manager put first on PATH.
/usr/bin/python3 -c 'import nbd' >/dev/null 2>&1 || missing+=(python3-libnbd)
for lang in python perl lua tcl; do
	[ -e "/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/nbdkit/plugins/nbdkit-$lang-plugin.so" ] ||
		missing+=("nbdkit-plugin-$lang")
done

qemu_ok() {
	command -v qemu-img >/dev/null 2>&1 || return 1
	local v
	v=$(qemu-img --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -1)
	set -- $v
	[ "${1:-0}" -gt 8 ] || { [ "${1:-0}" -eq 8 ] && [ "${2:-0}" -ge 2 ]; }
}
qemu_ok || missing+=(qemu-new)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-clients: missing ${missing[*]}; run as root to install them with apt-get" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ] &&
	! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >/etc/apt/sources.list.d/bookworm-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -q
apt-get install -y -q nbdkit nbdkit-plugin-dev nbdkit-plugin-python nbdkit-plugin-perl \
	nbdkit-plugin-lua nbdkit-plugin-tcl libnbd-bin python3-libnbd fio \
	fdisk gdisk xz-utils gzip bzip2 lzip zstd nginx-light openssh-server openssh-client \
	gnutls-bin gcc libc6-dev
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
	apt-get install -y -q -t bookworm-backports qemu-utils
else
	apt-get install -y -q qemu-utils
fi
qemu_ok || { echo "install-clients: qemu-img is older than 8.2; extended headers need a newer qemu" >&2; exit 1; }
