"""What changed between two step projects, file by file, for each step's CHANGES.md (a teaching aid: the diff a
participant would make to get from one step to the next)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

# The guides themselves change every step; comparing them teaches nothing.
IGNORED = {"README.md", "CHANGES.md", "RUNTIME.md"}
# A diff longer than this is summarised (a whole new runtime is read in its file, not in a diff).
MAX_DIFF_LINES = 80


@dataclass(frozen=True)
class FileChange:
    path: str
    kind: str  # added | removed | changed | moved (the same bytes under another path)
    lines_before: int
    lines_after: int
    diff: str | None  # a unified diff, or None when it would be too long, not text, or a move
    moved_from: str | None = None


def _text(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (UnicodeDecodeError, OSError):
        return None


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in IGNORED and ".serverless" not in p.parts}


def describe_changes(before: Path | None, after: Path) -> list[FileChange]:
    """Every file added, removed or changed from ``before`` (None: the first step) to ``after``."""
    old = _files(before) if before is not None else {}
    new = _files(after)
    gone = {old[path].read_bytes(): path for path in old.keys() - new.keys()}
    moves = {path: gone[new[path].read_bytes()] for path in new.keys() - old.keys()
             if new[path].read_bytes() in gone}
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path in moves.values():
            continue  # shown once, as the move
        if path in moves:
            count = len(_text(new[path]) or [])
            changes.append(FileChange(path, "moved", count, count, None, moves[path]))
            continue
        old_lines = _text(old[path]) if path in old else []
        new_lines = _text(new[path]) if path in new else []
        if path in old and path in new and old[path].read_bytes() == new[path].read_bytes():
            continue
        kind = "added" if path not in old else "removed" if path not in new else "changed"
        diff = None
        if old_lines is not None and new_lines is not None:
            lines = list(difflib.unified_diff(old_lines, new_lines, f"a/{path}", f"b/{path}", n=2))
            if len(lines) <= MAX_DIFF_LINES:
                diff = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        changes.append(FileChange(path, kind, len(old_lines or []), len(new_lines or []), diff))
    return changes
