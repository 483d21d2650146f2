"""A container's ``/output`` on a file system of the quota's size, so the quota stops the write.

The runner's check of the output directory (``arrl.run.supervision``) runs every half second or
so: a container writing fast can overshoot it by what it writes in between. Where arrl may mount
(root: a rootful engine), the experiment's output directory is instead a loop-mounted ext4 image
of ``output_quota`` bytes (sparse: it takes on disk only what is written), so a write past the
quota fails in the container with ENOSPC. After the run its files are moved out onto the host's
disk and the image is deleted, so what an experiment leaves looks the same either way.

Without the right to mount (a rootless engine) the runner's check is the only one; the record's
``details.output_quota`` says which held (``mount`` or ``runner``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import arrl
from arrl.output import remove_tree

NOBODY = "65534:65534"


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mkfs.ext4") is not None and shutil.which("mount") is not None


@contextlib.contextmanager
def sized_output(request: arrl.RunRequest, quota: int) -> Iterator[str]:
    """Make ``request.output_dir`` hold at most ``quota`` bytes while the block runs; yield
    ``"mount"`` when a sized file system does it, ``"runner"`` when only the runner's check."""
    output = request.output_dir
    image = request.log_dir / "output.img"
    if not can_mount() or not _mount_image(image, output, quota):
        yield "runner"
        return
    try:
        yield "mount"
    finally:
        _unmount_keeping_files(image, output)


def _mount_image(image: Path, output: Path, quota: int) -> bool:
    try:
        with image.open("wb") as handle:
            handle.truncate(quota)
        steps = [
            # -m 0: no blocks reserved for root; the container's user gets the whole quota.
            ["mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"root_owner={NOBODY}", str(image)],
            ["mount", "-o", "loop,nosuid,nodev", str(image), str(output)],
        ]
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        image.unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError):
        (output / "lost+found").rmdir()
    output.chmod(0o777)
    return True


def _unmount_keeping_files(image: Path, output: Path) -> None:
    """Move the experiment's files from the image onto the host's disk, then drop the image."""
    kept = output.with_name(output.name + ".kept")
    remove_tree(kept)
    kept.mkdir()
    for entry in output.iterdir():
        if entry.name == "lost+found":
            continue
        # mv, not shutil.move: across file systems that copies a folder by recursion, and an
        # experiment's tree may be deeper than Python's recursion limit. A failure (unreadable
        # leftovers of a failed run) is not worth failing the record for.
        subprocess.run(["mv", "--", str(entry), str(kept / entry.name)], capture_output=True, timeout=600)
    subprocess.run(["umount", str(output)], capture_output=True, timeout=60)
    if os.path.ismount(output):
        subprocess.run(["umount", "-l", str(output)], capture_output=True, timeout=60)
    image.unlink(missing_ok=True)
    for entry in kept.iterdir():
        os.replace(entry, output / entry.name)
    kept.rmdir()


def unmount_stale(run_id: str) -> int:
    """Unmount output images a killed arrl left mounted for this run."""
    count = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            point = line.split()[1].replace("\\040", " ")
            if f"/{run_id}/experiments/" in point and point.endswith("/output"):
                subprocess.run(["umount", "-l", point], capture_output=True, timeout=60)
                (Path(point).parent / "output.img").unlink(missing_ok=True)
                count += 1
    return count
