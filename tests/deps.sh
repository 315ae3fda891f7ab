#!/bin/sh
# deps.sh - install, when missing, every Debian package needed to build
# and test Postern.  Used by "make demo" and "make check".  Idempotent:
# does nothing (and needs no network) when everything is present.
set -eu

PKGS="build-essential pkg-config libssl-dev libc-ares-dev libsasl2-dev
libdb-dev db5.3-util libpcre2-dev libcmocka-dev postfix postfix-pcre sasl2-bin
libsasl2-modules libsasl2-modules-db python3 openssl socat procps
iproute2 dnsmasq-base dovecot-lmtpd python3-aiosmtpd"

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

# Several Postfix commands read the default configuration directory even
# when pointed at another one.
[ -e /etc/postfix/main.cf ] || touch /etc/postfix/main.cf
exit 0
