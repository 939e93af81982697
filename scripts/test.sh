#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what the tests need (Debian packages, npm
# packages), checks lint and types, builds, then runs unit, integration and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
# Without them Chinese and emoji render as boxes in the end-to-end screenshots.
[ -d /usr/share/fonts/opentype/noto ] || packages+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || packages+=(fonts-noto-color-emoji)
command -v tmux >/dev/null 2>&1 || packages+=(tmux)
[ -x /usr/sbin/nginx ] || packages+=(nginx)
# The CLI tests make TLS certificates.
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
# The PostgreSQL store's tests start throw-away servers of their own (test/helpers/postgres.ts).
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || packages+=(postgresql)
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
if ((${#packages[@]} > 0)); then
  echo "installing Debian packages: ${packages[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # The nginx package starts a default site on port 80; the tests run their own nginx on a free port.
  if [[ " ${packages[*]} " == *" nginx "* ]]; then $SUDO service nginx stop >/dev/null 2>&1 || true; fi
  # Likewise the postgresql package starts a cluster on port 5432, which the tests never use.
  if [[ " ${packages[*]} " == *" postgresql "* ]]; then $SUDO service postgresql stop >/dev/null 2>&1 || true; fi
  # So does redis-server, on 6379; the tests start their own (test/helpers/redis.ts) on free ports.
  if [[ " ${packages[*]} " == *" redis-server "* ]]; then $SUDO service redis-server stop >/dev/null 2>&1 || true; fi
fi

npm ci --no-audit --no-fund
npm run lint
npm run typecheck
npm run build
npm run test:run
# The delivery and protocol tests again, every server on PostgreSQL + Redis (see test/helpers/server.ts).
npm run test:postgres
