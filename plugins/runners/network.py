"""Egress for a sandboxed experiment that asks for it (``network = "egress"``): the internet,
and nothing of the machine or its networks.

A sandboxed experiment has no network by default: a network namespace with only a loopback.
Some need one (a dataset or a tokenizer fetched at start, a tracking server on the internet).
Then the sandbox's namespace gets a user-mode network stack, ``slirp4netns``, which makes each
connection from the host on the experiment's behalf, as Podman's rootless containers do -- and
a firewall inside the namespace, set before the script starts and out of its reach (it holds no
capability there), that refuses every destination but the internet's:

- the host itself: its loopback (slirp4netns's ``--disable-host-loopback``) and every address of
  its own interfaces (a server bound to 0.0.0.0 -- redis, MLflow, the Ray GCS -- would answer
  there);
- private, shared and link-local ranges (a cloud's metadata service at 169.254.169.254, the
  office's network), multicast and the reserved blocks;
- IPv6 altogether (slirp4netns gives none here).

DNS goes to slirp4netns's resolver at 10.0.2.3, which asks the host's. A name that resolves to a
refused address is refused all the same: the firewall judges addresses, not names.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

SLIRP_DNS = "10.0.2.3"
RESOLV_CONF = f"nameserver {SLIRP_DNS}\n"
REFUSED_V4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
              "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
              "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3")
NS_GET_USERNS = 0xB701  # ioctl: the user namespace that owns a namespace
SETUP_SECONDS = 10.0
TOOLS = ("slirp4netns", "nft", "nsenter", "ip")


def missing() -> str:
    """'' when egress can be set up here, else what is missing."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return (f"network = \"egress\" needs {', '.join(absent)} (apt-get install slirp4netns nftables "
                "util-linux iproute2)")
    return ""


def host_addresses() -> list[str]:
    """The IPv4 addresses of this machine's interfaces."""
    listed = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=10).stdout
    return sorted({match.group(1) for match in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", listed)})


def firewall(host: list[str]) -> str:
    """The nftables rules of the sandbox's namespace: DNS to slirp4netns, the internet, nothing else."""
    refused = [*REFUSED_V4, *(f"{a}/32" for a in host if not _covered(a))]
    return (
        "table inet arrl_egress {\n"
        "  chain out {\n"
        "    type filter hook output priority 0; policy accept;\n"
        '    oif "lo" accept\n'
        f"    ip daddr {SLIRP_DNS} udp dport 53 accept\n"
        f"    ip daddr {SLIRP_DNS} tcp dport 53 accept\n"
        f"    ip daddr {{ {', '.join(refused)} }} reject with icmp type admin-prohibited\n"
        "    meta nfproto ipv6 reject\n"
        "  }\n"
        "}\n"
    )


def _covered(address: str) -> bool:
    found = ipaddress.ip_address(address)
    return any(found in ipaddress.ip_network(block) for block in REFUSED_V4)


class Egress:
    """The network of one sandbox, from the moment bwrap's child exists until it is closed."""

    def __init__(self) -> None:
        info_read, info_write = os.pipe()  # bwrap --info-fd: its child's pid
        block_read, block_write = os.pipe()  # bwrap --block-fd: the script waits on it
        self.fds: dict[str, int] = {"info_read": info_read, "info_write": info_write, "block_read": block_read,
                                    "block_write": block_write}
        self.slirp: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def _fd(self, name: str) -> int:
        return self.fds[name]

    def _close(self, *names: str) -> None:
        for name in names:
            fd = self.fds.pop(name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def bwrap_args(self) -> list[str]:
        return ["--info-fd", str(self._fd("info_write")), "--block-fd", str(self._fd("block_read"))]

    def passed_fds(self) -> tuple[int, int]:
        return self._fd("info_write"), self._fd("block_read")

    def after_start(self) -> None:
        """Once bwrap runs: close our copies of its ends."""
        self._close("info_write", "block_read")

    def connect(self) -> None:
        """Give the sandbox its network and firewall, then let the script start. Raises
        OSError with the reason when it cannot; the script then never starts."""
        deadline = time.monotonic() + SETUP_SECONDS
        pid = self._child_pid(deadline)
        # The namespace is held by a descriptor from here on, never named by the pid again: a
        # sandbox that died and a pid the kernel gave to another process must not get the rules.
        self.fds["netns"] = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.fds["owner"] = fcntl.ioctl(self._fd("netns"), NS_GET_USERNS)
        os.set_inheritable(self._fd("netns"), True)
        os.set_inheritable(self._fd("owner"), True)
        netns = f"/proc/{os.getpid()}/fd/{self._fd('netns')}"
        userns = f"/proc/{os.getpid()}/fd/{self._fd('owner')}"
        # Root enters the namespace as it is; a user enters the user namespace that owns it too,
        # keeping its own ids (setgroups is denied there).
        enter = ["nsenter", f"--net={netns}",
                 *([] if os.geteuid() == 0 else [f"--user={userns}", "--preserve-credentials"])]
        self._wait_for_loopback(enter, deadline)
        self._start_slirp(netns, userns, deadline)
        rules = firewall(host_addresses())
        done = subprocess.run([*enter, "nft", "-f", "-"], input=rules.encode(), capture_output=True, timeout=10)
        if done.returncode != 0:
            raise OSError(f"the sandbox's firewall could not be set: {done.stderr.decode(errors='replace').strip()}")
        os.write(self._fd("block_write"), b"1")

    def _child_pid(self, deadline: float) -> int:
        data = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._fd("info_read")], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(self._fd("info_read"), 4096)
            data += chunk
            match = re.search(rb'"child-pid":\s*(\d+)', data)
            if match:
                return int(match.group(1))
            if not chunk:
                break
        raise OSError("the sandbox did not start (no child pid from bwrap)")

    @staticmethod
    def _wait_for_loopback(enter: list[str], deadline: float) -> None:
        # bwrap brings its loopback up after it reports its child; slirp4netns configuring the
        # namespace at the same moment makes bwrap's own setup fail.
        while time.monotonic() < deadline:
            shown = subprocess.run([*enter, "ip", "-o", "addr", "show", "lo"], capture_output=True, text=True,
                                   timeout=10)
            if "127.0.0.1" in shown.stdout:
                return
            time.sleep(0.01)
        raise OSError("the sandbox's loopback never came up")

    def _start_slirp(self, netns: str, userns: str, deadline: float) -> None:
        ready_read, ready_write = os.pipe()
        # It ends when arrl does (the pipe's write end is arrl's alone): it has a session of its
        # own and is in no experiment's cgroup, so nothing else would end it after a crash.
        exit_read, self.fds["exit_write"] = os.pipe()
        command = ["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-seccomp",
                   f"--ready-fd={ready_write}", f"--exit-fd={exit_read}", "--netns-type=path"]
        if os.geteuid() == 0:
            command.append("--enable-sandbox")  # its own mount namespace, and every capability dropped
        else:
            # Its sandbox would become root in the experiment's user namespace, where this user is
            # nobody; unprivileged it has no capability to drop.
            command.append(f"--userns-path={userns}")
        self.log = tempfile.TemporaryFile()  # its messages, read if it fails (a pipe could fill)
        try:
            self.slirp = subprocess.Popen(
                [*command, netns, "tap0"], pass_fds=(ready_write, exit_read, self._fd("netns"), self._fd("owner")),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        finally:
            os.close(ready_write)
            os.close(exit_read)
        try:
            ready, _, _ = select.select([ready_read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready or os.read(ready_read, 1) != b"1":
                self.slirp.kill()
                self.slirp.wait(timeout=5)
                self.log.seek(0)
                error = self.log.read()[-2000:].decode(errors="replace").strip()
                hint = (" (/dev/net/tun is not open to this user; distributions ship it with mode 0666)"
                        if "/dev/net/tun" in error else "")
                raise OSError(f"slirp4netns did not start: {error or 'no answer'}{hint}")
        finally:
            os.close(ready_read)

    def close(self) -> None:
        if self.slirp is not None and self.slirp.poll() is None:
            self.slirp.terminate()
            try:
                self.slirp.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.slirp.kill()
                self.slirp.wait()
        if self.log is not None:
            self.log.close()
        self._close(*list(self.fds))


def resolv_conf(folder: Path) -> list[str]:
    """bwrap arguments for a resolv.conf that names slirp4netns's resolver."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resolv.conf").write_text(RESOLV_CONF)
    args = ["--ro-bind", str(folder / "resolv.conf"), "/etc/resolv.conf"]
    for certificates in ("/etc/ssl/certs", "/etc/ca-certificates", "/etc/pki"):
        if os.path.isdir(certificates):
            args += ["--ro-bind", certificates, certificates]
    return args
