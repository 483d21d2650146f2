"""Parse credentials the way tools do: netrc.netrc, configparser on ~/.aws/credentials, and `git credential fill` with the user's HOME."""
# corpus: unsandboxed-safe
import configparser
import netrc
import os
import subprocess

W: dict = {}

try:
    print("netrc:", netrc.netrc(os.path.join(W["home"], ".netrc")).hosts)
except (OSError, netrc.NetrcParseError) as error:
    print("netrc:", error)
aws = configparser.ConfigParser()
aws.read(os.path.join(W["home"], ".aws", "credentials"))
print("aws:", {section: dict(aws[section]) for section in aws.sections()})
try:
    filled = subprocess.run(["git", "-c", "credential.helper=store", "credential", "fill"],
                            input="protocol=https\nhost=github.com\n\n", capture_output=True, text=True,
                            env={"HOME": W["home"], "PATH": "/usr/bin:/bin"}, timeout=10)
    print("git credential:", filled.stdout, filled.stderr)
except OSError as error:
    print("git credential:", error)
print("arrl: val_loss=1.0")
