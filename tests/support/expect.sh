#!/usr/bin/env bash
# expect.sh RC REGEX COMMAND...: runs COMMAND and passes only when it exits with RC *and* its
# output (stdout and stderr) matches the extended regular expression REGEX. (CTest's
# PASS_REGULAR_EXPRESSION alone ignores the exit code, so a test built on it cannot fail on one.)
set -u
want_rc=$1 regex=$2
shift 2
output=$("$@" 2>&1)
rc=$?
printf '%s\n' "$output"
if [ "$rc" -ne "$want_rc" ]; then
  echo "expect.sh: exit code $rc, expected $want_rc: $*" >&2
  exit 1
fi
if ! printf '%s\n' "$output" | tr '\n' ' ' | grep -Eq -- "$regex"; then
  echo "expect.sh: the output does not match /$regex/: $*" >&2
  exit 1
fi
