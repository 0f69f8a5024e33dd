#!/usr/bin/env bash
# g++ 12.2 miscompiles a co_await used directly as an if/while condition when
# the branch co_returns: the awaited coroutine's frame is corrupted (reproduced
# in docs/architecture.md). Bind the result first: `auto ec = co_await f(); if (ec)`.
set -euo pipefail
root=${1:?usage: coroutine_conditions.sh SOURCE_ROOT}
if grep -rnE '(if|while) \(!?co_await|(&&|\|\|) !?co_await' \
    "$root/libpggat" "$root/pggat-cli" "$root/examples" "$root/tests" \
    --include='*.cpp' --include='*.hpp'; then
  echo "error: co_await used directly in a condition (see above); bind it to a variable first" >&2
  exit 1
fi
echo "no co_await in conditions"
