"""What /proc says of a running process: resident memory and open descriptors."""
import os
import pathlib


def rss_kib(pid) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
