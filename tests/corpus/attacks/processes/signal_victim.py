"""Signal a process of the user's by its pid: kill, killpg on another's process group, tgkill on its thread, pidfd_send_signal."""
# corpus: unsandboxed-safe
import ctypes
import os
import signal

W: dict = {}

victim = W["victim_pid"]
libc = ctypes.CDLL(None, use_errno=True)
for name, send in (("kill", lambda: os.kill(victim, signal.SIGUSR1)),
                   ("killpg", lambda: os.killpg(os.getpgid(W["memory_victim_pid"]), signal.SIGUSR2)),
                   ("tgkill", lambda: libc.syscall(234, victim, victim, signal.SIGHUP) == 0 or 1 / 0),
                   ("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open(victim), signal.SIGTERM))):
    try:
        send()
    except (OSError, ZeroDivisionError) as error:
        print(name, error)
print("arrl: val_loss=1.0")
