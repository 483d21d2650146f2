"""Schedule itself with cron: a file in /etc/cron.d, a user crontab in /var/spool/cron, a line appended to /etc/crontab, and the crontab command (commented lines: the effect is the file)."""
import subprocess

W: dict = {}

line = f"# * * * * * root echo {W['marker']}\n"
for path in (f"/etc/cron.d/{W['marker']}", f"/var/spool/cron/crontabs/{W['marker']}", "/etc/crontab",
             f"/var/spool/cron/{W['marker']}"):
    try:
        with open(path, "a") as handle:
            handle.write(line)
    except OSError as error:
        print(path, error)
try:
    print(subprocess.run(["crontab", "-"], input=line, capture_output=True, text=True, timeout=5))
except (OSError, subprocess.TimeoutExpired) as error:
    print("crontab:", error)
print("arrl: val_loss=1.0")
