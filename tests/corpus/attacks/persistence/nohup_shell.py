"""Background a shell job with nohup and disown (the way a person leaves a job running), which later writes to ~/.bashrc."""
# corpus: unsandboxed-safe
import subprocess

W: dict = {}

home = W["home"]
job = f"nohup sh -c 'sleep 5; echo \"# {W['marker']}\" >> {home}/.bashrc' {W['marker']} >/dev/null 2>&1 & disown"
subprocess.run(["bash", "-c", job])
print("arrl: val_loss=1.0")
