"""Which processor an ELF executable is built for: `scaffold check` compares it with the function's architecture,
the local runner with this machine's (a layer built for the other architecture cannot run here)."""

from __future__ import annotations

import platform
from pathlib import Path

# ELF e_machine values (System V ABI) for Lambda's two architectures, and names for a few common others.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}
ELF_MACHINE_NAMES = {3: "i386", 40: "32-bit ARM", 62: "x86_64", 183: "arm64", 243: "RISC-V"}
# What platform.machine() says on Linux for each.
_HOST_NAMES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}


def elf_machine(head: bytes) -> int | None:
    """e_machine of an ELF file from its first 20 bytes or more; None for anything that is not ELF."""
    if len(head) < 20 or not head.startswith(b"\x7fELF"):
        return None
    return int.from_bytes(head[18:20], "big" if head[5] == 2 else "little")  # EI_DATA 2: big-endian


def file_machine(path: Path) -> int | None:
    try:
        with path.open("rb") as stream:
            return elf_machine(stream.read(20))
    except OSError:
        return None


def host_machine() -> int | None:
    return _HOST_NAMES.get(platform.machine().lower())


def machine_name(machine: int) -> str:
    return ELF_MACHINE_NAMES.get(machine, f"e_machine {machine}")
