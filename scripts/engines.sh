#!/usr/bin/env bash
# Installs and starts what the sandbox, container and Redis tests use: bubblewrap, Podman,
# Docker Engine and redis-server (Debian packages), as ../shared/notes/containers.md describes for this kind of
# machine. Idempotent; without root or apt it says so and leaves the tests to skip (or, in CI,
# to fail).
set -uo pipefail

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v bwrap >/dev/null || missing+=(bubblewrap)
# The sandbox's network egress: a user-mode stack and a firewall in its namespace.
command -v slirp4netns >/dev/null || missing+=(slirp4netns)
command -v nft >/dev/null || missing+=(nftables)
# The live display's test in a real terminal of 80 columns.
command -v tmux >/dev/null || missing+=(tmux)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "engines: cannot install ${missing[*]} (needs root and apt-get); their tests will skip" >&2
    exit 0
  fi
  echo "engines: installing ${missing[*]}" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# /dev/net/tun is 0666 on Debian and Ubuntu (a tap device needs no privilege; the namespace it
# is made in decides what it reaches); this kind of machine has it 0600, which would leave
# network egress to root.
if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" = 600 ]; then
  chmod 0666 /dev/net/tun
fi

# Podman: runc and cgroupfs (crun refuses this hybrid cgroup layout), and ulimits at the host's
# hard limits (asking for more needs CAP_SYS_RESOURCE, which this machine lacks).
if [ "$(id -u)" -eq 0 ] && command -v podman >/dev/null; then
  mkdir -p /etc/containers
  # runc refuses nproc at this machine's hard limit; 32768 (or less) works.
  nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  cat > /etc/containers/containers.conf <<CONF
# written by arrl's scripts/engines.sh
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

# Docker: nothing starts dockerd on this machine; start it in the background once.
if command -v dockerd >/dev/null && [ "$(id -u)" -eq 0 ]; then
  if ! [ -S /var/run/docker.sock ] || ! timeout 5 docker info >/dev/null 2>&1; then
    nohup dockerd --bridge=none --iptables=false --ip6tables=false >/tmp/arrl-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      timeout 5 docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  timeout 5 docker info >/dev/null 2>&1 || echo "engines: dockerd did not start; see /tmp/arrl-dockerd.log" >&2
fi
exit 0
