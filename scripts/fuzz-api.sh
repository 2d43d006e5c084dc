#!/usr/bin/env bash
# Property-based fuzzing of the whole API from its own OpenAPI document with schemathesis: every
# operation gets generated valid and invalid requests, and any 5xx answer is a failure.
#
#   scripts/fuzz-api.sh            # 100 examples per operation
#   FUZZ_EXAMPLES=20 scripts/fuzz-api.sh
#
# Runs the release build on a throw-away database as an admin (see bench-common.sh). Needs
# python3 with pip (installs schemathesis if missing). Two passes: first everything that cannot
# take the admin's own rights away, then the account-changing operations.
source "$(dirname "$0")/bench-common.sh"
EXAMPLES="${FUZZ_EXAMPLES:-100}"
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
start_server

ACCOUNT_CHANGING='(/users/\{user_id\}(/roles.*)?$|/auth/(change|reset)-password|/roles/\{role_id\}$)'
fuzz() {
    schemathesis run "$BASE/api/v1/openapi.json" -H "Authorization: Bearer $TOKEN" -c not_a_server_error \
        -n "$EXAMPLES" --request-timeout 20 "$@"
}
status=0
fuzz --exclude-path-regex "$ACCOUNT_CHANGING" || status=1
fuzz --include-path-regex "$ACCOUNT_CHANGING" || status=1
if grep -q ERROR "$WORK/server.log"; then
    echo "the server logged errors:" >&2
    grep ERROR "$WORK/server.log" >&2
    status=1
fi
exit $status
