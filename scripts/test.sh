#!/usr/bin/env bash
# Sets up a virtual environment and runs the whole test suite. README's second command and
# .ci/run both run exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The CPU build of torch 2.13.0 lies on this kind of machine's disk; an unpinned torch would pull
# a multi-gigabyte CUDA build.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0 -e '.[test,examples,docker,redis,report,mlflow,tensorboard,optuna,ray]'

# Podman, Docker Engine and redis-server for the tests that use real engines: installed and
# started here, so a fresh machine (and CI) runs them instead of skipping.
bash scripts/engines.sh

# The suite runs serially, one test at a time. The timing tests (a kill within budget + 1 s) run
# once, below, beside two busy processes: the harder case, and running them idle as well cost
# CI a minute and a half of its twenty.
set +e
.venv/bin/pytest -rs -m "not timing" "$@"
status=$?
set -e

# The timing tests, with two CPU-bound processes beside them: a kill tolerance must hold on a
# busy machine, not only on an idle CI runner.
busy=()
for _ in 1 2; do
  python3 -c 'while True: pass' &
  busy+=($!)
done
trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT
set +e
.venv/bin/pytest -rs -m timing "$@"
loaded=$?
set -e
kill "${busy[@]}" 2>/dev/null || true
# Exit 5 is pytest's "no tests collected": fine for one of the two passes (a selection of only
# timing tests, or none), never for both.
if [ "$status" -eq 5 ] && [ "$loaded" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
[ "$status" -eq 5 ] && status=0
if [ "$loaded" -ne 0 ] && [ "$loaded" -ne 5 ]; then
  echo "error: the timing tests failed beside two busy processes" >&2
  [ "$status" -eq 0 ] && status=$loaded
fi
exit "$status"
