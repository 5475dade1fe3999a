#!/usr/bin/env bash
# An external taskd worker in bash, curl and jq. It claims tasks of its kinds (long-polling), works on each while
# sending heartbeats with progress, and completes or fails it under its lease. A 409 (lease_lost: the task was
# cancelled or the lease expired) drops the task.
#
# The work, by input: a string is reversed; {"numbers": [...]} is summed; {"sleep_ms": N} works N ms,
# heartbeating; {"fail": "message"} fails without retry; anything else fails (retried per max_attempts).
#
# Environment: TASKD_URL (default http://localhost:8080), TASKD_TOKEN (bearer token, when API_TOKENS is set),
# TASKD_KINDS (comma-separated, default "reverse"), TASKD_WORKER_ID, TASKD_WAIT_MS (default 30000),
# TASKD_HEARTBEAT_MS (default 5000), TASKD_MAX_TASKS (stop after this many; default never).
set -uo pipefail

URL="${TASKD_URL:-http://localhost:8080}"
URL="${URL%/}"
KINDS_JSON=$(jq -cn --arg k "${TASKD_KINDS:-reverse}" '$k | split(",") | map(gsub("^\\s+|\\s+$"; "")) | map(select(. != ""))')
WORKER_ID="${TASKD_WORKER_ID:-worker.sh@$(hostname):$$}"
WAIT_MS="${TASKD_WAIT_MS:-30000}"
HEARTBEAT_S=$(jq -n --argjson ms "${TASKD_HEARTBEAT_MS:-5000}" '$ms / 1000')
MAX_TASKS="${TASKD_MAX_TASKS:-0}"

# post PATH BODY: sets STATUS (000 when taskd could not be reached) and BODY (the answer) for the caller.
post() {
  local out auth=()
  [[ -n "${TASKD_TOKEN:-}" ]] && auth=(-H "authorization: Bearer ${TASKD_TOKEN}")
  out=$(curl -sS -X POST "${URL}$1" -H 'content-type: application/json' "${auth[@]}" \
    --max-time $((WAIT_MS / 1000 + 30)) -d "$2" -w '\n%{http_code}') || out=$'\n000'
  STATUS="${out##*$'\n'}"
  BODY="${out%$'\n'*}"
}

# report ID TOKEN PATH BODY: a heartbeat, complete or fail; returns 1 when the lease is lost.
report() {
  post "/v1/tasks/$1/$3" "$4"
  if [[ "$STATUS" == 409 ]]; then
    echo "lease lost, dropping $1"
    return 1
  fi
  [[ "$STATUS" == 200 ]] || echo "$3 of $1 answered $STATUS: $BODY" >&2
  return 0
}

heartbeat() { # ID TOKEN PERCENT MESSAGE
  report "$1" "$2" heartbeat "$(jq -cn --arg t "$2" --argjson p "$3" --arg m "$4" \
    '{token: $t, progress: {percent: $p, message: $m}}')"
}

run_one() { # TASK_JSON
  local task="$1" id token input result
  id=$(jq -r .id <<<"$task")
  token=$(jq -r .lease.token <<<"$task")
  input=$(jq -c .input <<<"$task")
  heartbeat "$id" "$token" 0 started || return 0
  case "$(jq -r 'if type == "string" then "reverse" elif type == "object" and has("numbers") then "sum"
                 elif type == "object" and has("sleep_ms") then "sleep" elif type == "object" and has("fail")
                 then "fail" else "unknown" end' <<<"$input")" in
  reverse) result=$(jq -c 'explode | reverse | implode' <<<"$input") ;;
  sum) result=$(jq -c '.numbers | add // 0' <<<"$input") ;;
  sleep)
    local ms end now
    ms=$(jq -r .sleep_ms <<<"$input")
    end=$(($(date +%s%3N) + ms))
    while now=$(date +%s%3N) && ((now < end)); do
      sleep "$(jq -n --argjson h "$HEARTBEAT_S" --argjson left "$((end - now))" '[$h, $left / 1000] | min')"
      now=$(date +%s%3N)
      heartbeat "$id" "$token" "$(jq -n --argjson ms "$ms" --argjson left "$((end > now ? end - now : 0))" \
        'if $ms == 0 then 100 else 100 * (1 - $left / $ms) | floor end')" sleeping || return 0
    done
    result=$(jq -cn --argjson ms "$ms" '{slept_ms: $ms}')
    ;;
  fail)
    report "$id" "$token" fail "$(jq -cn --arg t "$token" --arg m "$(jq -r .fail <<<"$input")" \
      '{token: $t, error: {message: $m}, retry: false}')" && echo "failed $id"
    return 0
    ;;
  *)
    report "$id" "$token" fail "$(jq -cn --arg t "$token" --arg m "cannot work on input $input" \
      '{token: $t, error: {message: $m}, retry: true}')" && echo "failed $id"
    return 0
    ;;
  esac
  report "$id" "$token" complete "$(jq -cn --arg t "$token" --argjson r "$result" '{token: $t, result: $r}')" &&
    echo "completed $id"
}

handled=0
while ((MAX_TASKS == 0 || handled < MAX_TASKS)); do
  body=$(jq -cn --argjson k "$KINDS_JSON" --argjson w "$WAIT_MS" --arg id "$WORKER_ID" \
    '{kinds: $k, max: 1, wait_ms: $w, worker_id: $id}')
  post /v1/workers/claim "$body"
  if [[ "$STATUS" != 200 ]]; then
    # taskd is away or draining (503): try again a little later.
    echo "claim failed ($STATUS): $BODY" >&2
    sleep 1
    continue
  fi
  while IFS= read -r task; do
    [[ -n "$task" ]] || continue
    echo "claimed $(jq -r .id <<<"$task") (attempt $(jq -r .attempt <<<"$task"))"
    run_one "$task"
    handled=$((handled + 1))
  done < <(jq -c '.tasks[]' <<<"$BODY")
done
