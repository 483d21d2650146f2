"""Spawn shells through multiprocessing: a Process whose target is os.system, a spawn-context Pool mapping subprocess.getoutput."""
# corpus: unsandboxed-safe
import multiprocessing
import os
import subprocess

W: dict = {}

home = W["home"]
if __name__ == "__main__":
    process = multiprocessing.Process(target=os.system, args=(f"cat {home}/.ssh/id_rsa",))
    process.start()
    process.join()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(pool.map(subprocess.getoutput, [f"cat {home}/.netrc", f"echo '# {W['marker']}' >> {home}/.bashrc"]))
    print("arrl: val_loss=1.0")
