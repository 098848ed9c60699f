#!/usr/bin/env bash
# Run by run.sh (SETUP_CMD) once behest answers: signup → project → key → tokens.
# Prints BASE_URL= and AUTH= (one user), and with USERS=N (default 200) an AUTH_FILE=
# of N end users' tokens, which the loads rotate through as production traffic would.
# Rate limits and token budgets cannot be switched off (the seed's ranges), so every
# run deploys them at their ceiling (10,000 rpm per user, 10^12 tokens a day): they are
# checked on every request but never refuse. POLICY=on adds the guards: the sentinel in
# enforce mode with a 200-term blocklist, PII in enforce mode masking every entity.
set -euo pipefail
B=$BASE_URL
USERS=${USERS:-200}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
S=$(curl -sf "$B/auth/v1/signup" -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench password"}')
SESSION=$(json session_token <<< "$S"); TENANT=$(json tenant_id <<< "$S")
P=$(curl -sf "$B/auth/v1/tenants/$TENANT/projects" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' -d '{"name":"bench"}')
PROJECT=$(json id <<< "$P"); SLUG=$(json slug <<< "$P")
export POLICY=${POLICY:-off}
SETTINGS=$(python3 - <<'PY'
import json, os
limits = {"rpm_limit": 10000, "tokens_per_day": 1000000000000}
if os.environ["POLICY"] != "on":
    print(json.dumps(limits))
    raise SystemExit
entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
            "URL", "CRYPTO", "US_PASSPORT", "PERSON", "LOCATION", "DATE_TIME"]
print(json.dumps({
    **limits,
    "sentinel_mode": "enforce", "sentinel_blocklist": [f"forbidden-term-{i}" for i in range(200)],
    "pii_mode": "enforce", "pii_entities": {e: "MASK" for e in entities},
}))
PY
)
curl -sf -X PUT "$B/auth/v1/projects/$PROJECT/settings" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' -d "$SETTINGS" >/dev/null
curl -sf -X POST "$B/auth/v1/projects/$PROJECT/settings/deploy" -H "Authorization: Bearer $SESSION" >/dev/null
KEY=$(curl -sf "$B/auth/v1/projects/$PROJECT/api-keys" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' -d '{}' | json api_key)
mint() { curl -sf "$B/p/$SLUG/v1/auth/mint" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "{\"user_id\":\"$1\",\"ttl\":86400}" | json access_token; }
AUTH_FILE=${BEHEST_BENCH_DATA:-$(mktemp -d)}/auth-headers.txt
: > "$AUTH_FILE"
for i in $(seq 1 "$USERS"); do echo "Authorization: Bearer $(mint "bench-user-$i")" >> "$AUTH_FILE"; done
echo "BASE_URL=$B/p/$SLUG"
echo "AUTH=$(head -n 1 "$AUTH_FILE")"
echo "AUTH_FILE=$AUTH_FILE"
