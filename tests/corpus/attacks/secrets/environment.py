"""Read the experiment's own environment, whole and by the names credentials have (AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, ...)."""
# corpus: unsandboxed-safe
import os

W: dict = {}

print("environ:", dict(os.environ))
for name in ("AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "ARRL_TEST_SECRET", "HF_TOKEN"):
    print(name, os.environ.get(name), os.getenv(name))
print("environb:", dict(os.environb))
print("arrl: val_loss=1.0")
