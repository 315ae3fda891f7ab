#!/bin/sh
# deps.sh - install, when missing, every Debian package needed to build
# and test Postern.  Used by "make demo" and "make check".  Idempotent:
# does nothing (and needs no network) when everything is present.
set -eu

PKGS="build-essential pkg-config libssl-dev libc-ares-dev libsasl2-dev
libdb-dev db5.3-util libpcre2-dev libcmocka-dev postfix postfix-pcre sasl2-bin
libsasl2-modules libsasl2-modules-db python3 openssl socat procps
iproute2 dnsmasq-base dovecot-lmtpd python3-aiosmtpd adduser
libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2
libpcre2-8-0"

# Exim (Debian 12's exim4-daemon-light) is a receiving server of the
# protocol tests.  It cannot be installed as a package beside postfix (both
# provide mail-transport-agent), so its .deb is fetched with apt-get
# download and unpacked with dpkg -x into EXIM_DIR; the libraries it links
# are the plain library packages above.  The binary looks up its user
# "Debian-exim" when it starts, so that system user is created as Debian's
# exim4-base does.
EXIM_DIR=${POSTERN_EXIM_DIR:-/var/cache/postern-test/exim}
EXIM_PKG=exim4-daemon-light

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages:$missing (run as root)" >&2
		exit 1
	fi
	echo "deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

die() {
	echo "deps.sh: $*" >&2
	exit 1
}

if [ ! -x "$EXIM_DIR/usr/sbin/exim4" ]; then
	[ "$(id -u)" = 0 ] || die "no Exim in $EXIM_DIR (run as root)"
	echo "deps.sh: fetching $EXIM_PKG into $EXIM_DIR"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download runs as _apt where that user exists.
	chown _apt "$tmp" 2>/dev/null || true
	if ! (cd "$tmp" && apt-get download -qq "$EXIM_PKG") >/dev/null 2>&1; then
		apt-get update -qq ||
		    die "apt-get update failed: Debian's package registry unreachable?"
		(cd "$tmp" && apt-get download -qq "$EXIM_PKG") ||
		    die "cannot download $EXIM_PKG from Debian's package registry"
	fi
	deb=$(ls "$tmp"/"$EXIM_PKG"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download left no $EXIM_PKG .deb"
	ver=$(dpkg-deb -f "$deb" Version)
	case $ver in
	4.96-*) ;;
	*) die "$EXIM_PKG $ver is not Debian 12's Exim 4.96" ;;
	esac
	rm -rf "$EXIM_DIR.new"
	mkdir -p "$EXIM_DIR.new"
	dpkg -x "$deb" "$EXIM_DIR.new" || die "dpkg -x $deb failed"
	# We run it as root with -C: no set-uid copy lying around.
	chmod 0755 "$EXIM_DIR.new/usr/sbin/exim4"
	echo "$EXIM_PKG $ver" >"$EXIM_DIR.new/VERSION"
	rm -rf "$EXIM_DIR"
	mv "$EXIM_DIR.new" "$EXIM_DIR"
fi
if ! getent passwd Debian-exim >/dev/null; then
	[ "$(id -u)" = 0 ] || die "no user Debian-exim (run as root)"
	adduser --system --group --quiet --home /var/spool/exim4 \
	    --no-create-home --disabled-login --force-badname Debian-exim ||
	    die "cannot create the system user Debian-exim"
fi
if ldd "$EXIM_DIR/usr/sbin/exim4" | grep -q "not found"; then
	ldd "$EXIM_DIR/usr/sbin/exim4" | grep "not found" >&2
	die "$EXIM_DIR/usr/sbin/exim4 misses shared libraries"
fi

# Several Postfix commands read the default configuration directory even
# when pointed at another one.
[ -e /etc/postfix/main.cf ] || touch /etc/postfix/main.cf
exit 0
