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

# The suite runs in ARRL_TEST_WORKERS processes (3 by default), each test file whole in one of
# them (its module fixtures -- a redis server, a corpus world, built images -- made once);
# --dist loadscope groups a file's functions, and each test class apart, so a long test split
# into classes (the fifty SIGKILLs) is shared out. (--dist loadgroup does not group on pytest 9:
# pytest-xdist 3.8 renames a test by its private _nodeid, which pytest 9 no longer reads.) Most of
# a test's time is a subprocess starting torch, a container engine answering, or a sleep; and on a
# machine other jobs keep busy, three of our processes get three shares of the CPU where one got
# one (the suite took 44 min serially beside two busy loops, 21-25 min in three processes). Four
# were no faster in two runs, and Ray's overlap test failed once under their load. The timing tests (a kill within
# budget + 1 s) run serially, below, beside two busy processes: the harder case, and running them
# idle as well cost CI a minute and a half of its twenty.
set +e
.venv/bin/pytest -rs -m "not timing" -n "${ARRL_TEST_WORKERS:-3}" --dist loadscope "$@"
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
# The sandbox's tests once more as an unprivileged user (CI names one, made by .ci/run): root and
# a user reach user namespaces, cgroups and signals differently. The interpreter may live under a
# home the user cannot traverse (pyenv under /root): its folders get the search bit, nothing more.
unprivileged=0
if [ -n "${ARRL_UNPRIVILEGED_USER:-}" ] && [ "$(id -u)" -eq 0 ]; then
  folder=$(.venv/bin/python -c 'import sys; print(sys.base_prefix)')
  while [ "$folder" != "/" ]; do chmod o+x "$folder"; folder=$(dirname "$folder"); done
  home=$(mktemp -d /tmp/arrl-unprivileged-XXXXXX)
  chown "$ARRL_UNPRIVILEGED_USER" "$home"
  set +e
  runuser -u "$ARRL_UNPRIVILEGED_USER" -- env -i PATH="$PATH" HOME="$home" CI="${CI:-}" \
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \
    .venv/bin/pytest -rs -m "not timing" -k "not container" tests/test_sandbox.py "$@"
  unprivileged=$?
  set -e
  if [ "$unprivileged" -ne 0 ]; then
    echo "error: the sandbox's tests failed as the unprivileged user $ARRL_UNPRIVILEGED_USER" >&2
    [ "$status" -eq 0 ] && status=$unprivileged
  fi
fi

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
