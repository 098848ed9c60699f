#!/usr/bin/env bash
# Runs the README's run command exactly as the README writes it (taken from the README
# itself, not copied here), waits for /readyz, then follows the instructions `--demo`
# prints, as a new user would: the mint command, then the streaming call with the
# minted access_token in place of ACCESS_TOKEN, then the dashboard's sign-in. Stops the server with SIGTERM and
# expects a clean exit. Run it in a fresh clone (CI's checkout is one).
set -euo pipefail
cd "$(dirname "$0")/.."

# The line of the README's first code block that says "# run it".
run_cmd=$(grep -m1 -E '^cargo run .*# run it' README.md | sed -E 's/[[:space:]]+#.*$//')
[ -n "$run_cmd" ] || { echo "readme-run: no '# run it' command in README.md" >&2; exit 1; }
echo "readme-run: \$ $run_cmd"

work=$(mktemp -d)
out="$work/stdout"
cleanup() {
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# `cargo run` execs the binary on Unix, so $pid becomes the server itself.
bash -c "exec $run_cmd" >"$out" 2>"$work/stderr" &
pid=$!

# The first run builds in release mode: allow for it.
deadline=$((SECONDS + 1800))
until grep -q '^Then call the model' "$out" 2>/dev/null && curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "readme-run: the server exited early" >&2; tail -n 30 "$work/stderr" >&2; exit 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "readme-run: not ready in time" >&2; exit 1; }
    sleep 2
done
# The instructions are complete once the last line is printed.
for _ in $(seq 1 50); do grep -q '^The dashboard: ' "$out" && break; sleep 0.1; done
echo "readme-run: ready; it printed:"
sed 's/^/    | /' "$out"

# Each printed command: from a line starting with "curl" through its last
# backslash-continued line.
commands() {
    awk '/^  curl /{cmd=""; on=1} on{line=$0; sub(/^  /,"",line); cont=sub(/\\$/,"",line); cmd=cmd line; if(!cont){print cmd; on=0}}' "$out"
}
mint_cmd=$(commands | sed -n 1p)
chat_cmd=$(commands | sed -n 2p)
[ -n "$mint_cmd" ] && [ -n "$chat_cmd" ] || { echo "readme-run: the demo printed no mint and chat commands" >&2; exit 1; }

echo "readme-run: \$ $mint_cmd"
minted=$(bash -c "$mint_cmd")
token=$(printf '%s' "$minted" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
role=$(printf '%s' "$token" | python3 -c 'import base64,json,sys; p=sys.stdin.read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["role"])')
[ "$role" = "user" ] || { echo "readme-run: the demo's token has role $role, not user" >&2; exit 1; }

chat_cmd=${chat_cmd/ACCESS_TOKEN/$token}
echo "readme-run: \$ ${chat_cmd/$token/ACCESS_TOKEN}"
streamed=$(bash -c "$chat_cmd")
printf '%s\n' "$streamed" | sed 's/^/    | /'
printf '%s' "$streamed" | grep -q '"content":"' || { echo "readme-run: no streamed content" >&2; exit 1; }
printf '%s' "$streamed" | grep -q '^data: \[DONE\]' || { echo "readme-run: the stream did not end with [DONE]" >&2; exit 1; }

# The dashboard line: its address and the demo login, signed in with as a person would
# (the sign-in page's form, its CSRF token and cookie), then the project list.
dash_line=$(grep -m1 '^The dashboard: ' "$out" || true)
[ -n "$dash_line" ] || { echo "readme-run: the demo printed no dashboard address" >&2; exit 1; }
dash_url=$(printf '%s' "$dash_line" | sed -E 's/^The dashboard: ([^ ]+).*/\1/')
dash_email=$(printf '%s' "$dash_line" | sed -E 's/.*sign in as ([^ ]+) \/ .*/\1/')
dash_password=$(printf '%s' "$dash_line" | sed -E 's/.*sign in as [^ ]+ \/ ([^)]+)\).*/\1/')
jar="$work/cookies"
echo "readme-run: signing in at ${dash_url} as ${dash_email}"
csrf=$(curl -fsS -c "$jar" -b "$jar" "${dash_url%/}/sign-in" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
[ -n "$csrf" ] || { echo "readme-run: the sign-in page has no form" >&2; exit 1; }
landed=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' \
    --data-urlencode "_csrf=$csrf" --data-urlencode "email=$dash_email" --data-urlencode "password=$dash_password" \
    "${dash_url%/}/sign-in")
case "$landed" in
    "303 "*/projects) ;;
    *) echo "readme-run: signing in to the dashboard answered $landed" >&2; exit 1 ;;
esac
curl -fsS -b "$jar" "${dash_url%/}/projects" | grep -q '>Demo<' || { echo "readme-run: the dashboard does not list the demo project" >&2; exit 1; }
echo "readme-run: the dashboard signs in and lists the demo project"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || { echo "readme-run: the server exited with $status after SIGTERM" >&2; exit 1; }
echo "readme-run: the README's run command works as written"
