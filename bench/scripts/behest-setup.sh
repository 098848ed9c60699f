#!/usr/bin/env bash
# Run by run.sh (SETUP_CMD) once behest answers: signup → project → key → token.
# Prints BASE_URL= and AUTH= for the loads.
set -euo pipefail
B=$BASE_URL
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
S=$(curl -sf "$B/auth/v1/signup" -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench password"}')
SESSION=$(json session_token <<< "$S"); TENANT=$(json tenant_id <<< "$S")
P=$(curl -sf "$B/auth/v1/tenants/$TENANT/projects" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' -d '{"name":"bench"}')
PROJECT=$(json id <<< "$P"); SLUG=$(json slug <<< "$P")
KEY=$(curl -sf "$B/auth/v1/projects/$PROJECT/api-keys" -H "Authorization: Bearer $SESSION" -H 'Content-Type: application/json' -d '{}' | json api_key)
TOKEN=$(curl -sf "$B/p/$SLUG/v1/auth/mint" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"user_id":"bench-user","ttl":86400}' | json access_token)
echo "BASE_URL=$B/p/$SLUG"
echo "AUTH=Authorization: Bearer $TOKEN"
