"""The runners (subprocess, Podman, Docker) and what they share: the reaper and its containment,
the container image and mounts, and sized output directories."""
