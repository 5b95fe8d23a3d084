#!/usr/bin/env bash
# `make run`: starts the service in a demo configuration that needs no
# outside account: SQLite under ./data, Enterprise Edition on a trial that
# started when ./data was first used, and the built-in development identity
# provider on loopback. Seeds a demo tenant and user, prints the URLs to try.
set -euo pipefail
bin=${1:-bin/alga-mobile-auth}
cd "$(dirname "$0")/.."
mkdir -p data
[ -f data/trial-started-at ] || date -u +%Y-%m-%dT%H:%M:%SZ > data/trial-started-at

port=${PORT:-8080}
export NEXTAUTH_URL=${NEXTAUTH_URL:-http://localhost:$port}
export ALGA_MOBILE_LISTEN_ADDR=${ALGA_MOBILE_LISTEN_ADDR:-127.0.0.1:$port}
export EDITION=${EDITION:-ee}
export ALGA_TRIAL_STARTED_AT=${ALGA_TRIAL_STARTED_AT:-$(cat data/trial-started-at)}
export ALGA_MOBILE_DATABASE_URL=${ALGA_MOBILE_DATABASE_URL:-sqlite:./data/mobile-auth.db}
export ALGA_MOBILE_DEV_IDP=${ALGA_MOBILE_DEV_IDP:-true}
export ALGA_MOBILE_LOG_FORMAT=${ALGA_MOBILE_LOG_FORMAT:-text}
export ALGA_MOBILE_SHUTDOWN_DRAIN_SEC=${ALGA_MOBILE_SHUTDOWN_DRAIN_SEC:-1}

demo_tenant=00000000-0000-4000-8000-000000000001
demo_email=demo@example.com
"$bin" migrate >/dev/null
if ! "$bin" users list 2>/dev/null | grep -qi "$demo_email"; then
  "$bin" users add --tenant "$demo_tenant" --email "$demo_email" --first-name Demo --last-name Technician >/dev/null
fi

# enc percent-encodes its argument (every byte but A-Z a-z 0-9 - . _ ~),
# in bash alone: the demo needs nothing beyond the binary.
enc() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9.~_-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}
handoff="$NEXTAUTH_URL/auth/mobile/handoff?redirect=alga://auth/callback&state=demo-state"
cat <<TXT

alga-mobile-auth demo — $NEXTAUTH_URL  (Ctrl-C to stop)

  capabilities   curl -s $NEXTAUTH_URL/api/v1/mobile/auth/capabilities
  sign in        $NEXTAUTH_URL/demo/handoff
                 (choose "Development sign-in", e-mail $demo_email; the page then shows the
                 alga://auth/callback?ott=… deep link the app would get, and the curl that exchanges it)
  as the app     $NEXTAUTH_URL/auth/signin?callbackUrl=$(enc "$handoff")
                 (the URL the app opens; ends in the alga:// deep link, which a desktop browser cannot open)
  connect QR     $NEXTAUTH_URL/mobile/connect
  JWKS           $NEXTAUTH_URL/.well-known/jwks.json
  health         $NEXTAUTH_URL/healthz   $NEXTAUTH_URL/readyz   $NEXTAUTH_URL/metrics

TXT
exec "$bin" serve
