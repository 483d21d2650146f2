"""Reach the user's terminal through arrl: ANSI and OSC escape sequences (clear the screen, set the title, write the clipboard) on stdout, stderr and in an exception's message, which becomes the failure reason arrl prints."""
# corpus: unsandboxed-safe
import sys

W: dict = {}

escapes = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\x9b31m\r"
print(f"step 1 {escapes}")
print(f"warning {escapes}", file=sys.stderr)
print("arrl: val_loss=1.0")
raise SystemExit(f"diverged {escapes}")
