#!/bin/sh
# Install the configuration rendered by `hotline asterisk render-config` (mounted at /etc/asterisk-rendered),
# then run Asterisk in the foreground as the asterisk user.
set -eu
rendered=/etc/asterisk-rendered
if [ ! -f "$rendered/extensions.conf" ]; then
  echo "no rendered configuration in $rendered: run the asterisk-config service (docker compose up asterisk)" >&2
  exit 1
fi
mkdir -p /etc/asterisk.dist
[ -n "$(ls -A /etc/asterisk.dist)" ] || cp -a /etc/asterisk/. /etc/asterisk.dist/
rm -f /etc/asterisk/*.conf
cp "$rendered"/*.conf /etc/asterisk/
chown root:asterisk /etc/asterisk/*.conf
chmod 640 /etc/asterisk/*.conf
chown asterisk:asterisk /var/spool/asterisk/hotline-fallback
exec /usr/sbin/asterisk -f -U asterisk -G asterisk
