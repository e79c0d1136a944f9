"""One sandbox's /var/task and /opt, laid out from the function's package as ``scaffold check`` computes it.

The task root holds exactly the files of the function's zip (``package.patterns`` applied, as the Framework
applies them) and the opt folder the files of its layers' zips, merged in order, later layers winning
(:mod:`runtime_scaffold.execution_environment`, the one model of what Lambda sees). A file the package leaves
out is missing here too, so a project that only works because of it fails locally as it would on Lambda.

Each cold start brings the folders in line with the project (:meth:`SandboxFiles.sync`); a warm invocation
touches nothing. Files are hard links to the project's own, so an edit made in place shows at once and a sync
only re-links what was replaced, removed or added; where a link cannot be made (another filesystem, a file
that is not ours) the file is copied, and copied again only when it changed. A ``package.artifact`` zip is
unpacked instead, again only when it changed.

:class:`PathMap` turns the sandbox's folders back into Lambda's paths (``/var/task``, ``/opt``,
``/var/runtime``) in what a caller or a reader of the log sees.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime_scaffold.execution_environment import (
    OPT,
    TASK_ROOT,
    ExecutionEnvironment,
    ExecutionEnvironmentBuilder,
    Package,
)
from runtime_scaffold.packaging import artifact
from runtime_scaffold.project import Function, Project

RUNTIME_DIR = "/var/runtime"


class PackageUnavailable(Exception):
    """The package cannot be laid out (a ``package.artifact`` zip that is missing or unreadable)."""


@dataclass(frozen=True)
class PathMap:
    """Local folders of a sandbox and the Lambda paths they stand for, applied to bytes a caller or the log sees."""

    pairs: tuple[tuple[bytes, bytes], ...]

    def to_lambda(self, data: bytes) -> bytes:
        for local, mapped in self.pairs:
            if local in data:
                data = data.replace(local, mapped)
        return data

    def text(self, text: str) -> str:
        return self.to_lambda(text.encode()).decode()


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _listing(base: Path) -> tuple[dict[str, int], list[str]]:
    """Every non-folder below ``base`` (links not followed) with its inode number, which the folder listing
    already holds (no stat per file), and every folder below it, by posix path relative to ``base``."""
    found: dict[str, int] = {}
    folders: list[str] = []
    stack = [("", str(base))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                folders.append(name)
                stack.append((name + "/", entry.path))
            else:
                found[name] = entry.inode()
    return found, folders


class _Tree:
    """One folder kept equal to a set of files (relative path -> source file)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._copied: dict[str, tuple[int, int, int, int]] = {}  # files copied, not linked: their source then
        self._unpacked: tuple[int, int, int, int] | None = None  # the artifact zip last unpacked here

    def sync(self, wanted: Mapping[str, Path]) -> None:
        self._unpacked = None
        self.base.mkdir(parents=True, exist_ok=True)
        device = os.stat(self.base).st_dev
        present, folders = _listing(self.base)
        for name in present.keys() - wanted.keys():
            self._remove(name)
        for name, source in wanted.items():
            try:
                source_info = os.stat(source)
            except OSError:
                continue  # gone since the package was computed: the next cold start drops it
            inode = present.get(name)
            if inode == source_info.st_ino and device == source_info.st_dev:
                continue  # the same file: a link made earlier, and an edit in place is already visible
            if inode is not None and self._copied.get(name) == _identity(source_info):
                continue
            self._place(name, source, source_info, replace=inode is not None)
        self._prune_folders(wanted, folders)

    def _remove(self, name: str) -> None:
        self._copied.pop(name, None)
        with contextlib.suppress(OSError):
            (self.base / name).unlink()

    def _place(self, name: str, source: Path, source_info: os.stat_result, *, replace: bool) -> None:
        target = self.base / name
        if replace:
            self._remove(name)
        if target.is_dir() and not target.is_symlink():  # a folder where a file now goes
            shutil.rmtree(target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file where a folder now goes
            self._clear_path_to(target.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
            self._copied.pop(name, None)
        except OSError:  # another filesystem, too many links, a file that is not ours: a copy, kept up to date
            shutil.copy2(source, target)
            self._copied[name] = _identity(source_info)

    def _clear_path_to(self, folder: Path) -> None:
        for parent in reversed([folder, *folder.parents]):
            if parent == self.base or self.base not in parent.parents:
                continue
            if parent.is_file() or parent.is_symlink():
                parent.unlink()

    def _prune_folders(self, wanted: Mapping[str, Path], folders: list[str]) -> None:
        """Remove the folders (deepest first) that no wanted file is in."""
        keep: set[str] = set()
        for name in wanted:
            folder = name.rpartition("/")[0]
            while folder and folder not in keep:
                keep.add(folder)
                folder = folder.rpartition("/")[0]
        for folder in sorted(set(folders) - keep, key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(self.base / folder)

    def unpack(self, zip_path: Path) -> None:
        """Make the folder hold exactly the zip's files, with their modes (only when the zip changed)."""
        try:
            identity = _identity(os.stat(zip_path))
        except OSError:
            raise PackageUnavailable(f"package.artifact {zip_path} does not exist") from None
        if identity == self._unpacked and self.base.is_dir():
            return
        if self.base.exists():
            shutil.rmtree(self.base)
        self.base.mkdir(parents=True)
        self._copied = {}
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in archive.infolist():
                    target = Path(archive.extract(member, self.base))
                    mode = (member.external_attr >> 16) & 0o7777
                    if mode and not member.is_dir():
                        target.chmod(mode | stat.S_IRUSR)
        except (OSError, zipfile.BadZipFile) as error:
            raise PackageUnavailable(f"package.artifact {zip_path} cannot be unpacked: {error}") from None
        self._unpacked = identity


class SandboxFiles:
    """The task root and opt folder of one sandbox, under ``root`` (the sandbox's own temporary folder)."""

    def __init__(self, root: Path) -> None:
        root = root.resolve()  # the form a runtime's realpath() gives, so that the map below catches it
        self.task = root / "task"
        self.opt = root / "opt"
        self.runtime = root / "runtime"
        self._task_tree, self._opt_tree = _Tree(self.task), _Tree(self.opt)
        self.environment: ExecutionEnvironment | None = None
        self.layers: list[Package] = []  # the layer packages merged into /opt, in order
        self._project_root = root
        self.path_map = PathMap(tuple((str(local).encode(), mapped.encode()) for local, mapped in (
            (self.task, TASK_ROOT), (self.opt, OPT), (self.runtime, RUNTIME_DIR))))

    def sync(self, project: Project, function: Function) -> ExecutionEnvironment:
        """Lay out /var/task and /opt as the function's package and layers hold them now (file system work: run
        it off the event loop)."""
        environment = ExecutionEnvironmentBuilder(project).environment(function)
        self.runtime.mkdir(parents=True, exist_ok=True)
        if environment.task is not None:
            self._task_tree.sync(environment.task.files)
        else:
            prebuilt = artifact(project.config, function_key=function.key)
            self._task_tree.unpack(project.root / str(prebuilt))
        # Only layers the function names exactly: scaffold check also looks into the one a wrong Ref most
        # likely meant, but Lambda would deploy without it.
        named = {ref.layer.key for ref in environment.references if ref.exact and ref.layer is not None}
        self.layers = [package for package in environment.layers
                       if package.layer is not None and package.layer.key in named]
        opt: dict[str, Path] = {}
        for package in self.layers:  # extracted in order: a later layer's file wins
            opt.update(package.files)
        self._opt_tree.sync(opt)
        self.environment = environment
        self._project_root = project.root
        return environment

    def source(self, path: Path) -> Path:
        """The project's file laid out at ``path`` in /opt or /var/task (``path`` itself when none is)."""
        task = self.environment.task if self.environment is not None else None
        for base, packages in ((self.opt, list(reversed(self.layers))), (self.task, [task] if task else [])):
            if path.is_relative_to(base):
                inner = path.relative_to(base).as_posix()
                return next((package.files[inner] for package in packages if inner in package.files), path)
        return path

    def build_scripts(self) -> list[str]:
        """The ``build-*.sh`` scripts in the folders of the layers laid out in /opt, relative to the project (a
        layer's patterns usually leave them out of the layer itself)."""
        root = self._project_root
        found = []
        for package in self.layers:
            for script in sorted(package.root.glob("build-*.sh")):
                found.append(script.relative_to(root).as_posix() if script.is_relative_to(root) else str(script))
        return found

    def looked_at(self, lambda_path: str) -> str:
        """What stands behind ``/var/task/bootstrap`` or ``/opt/bootstrap`` here, in the project's terms, for an
        InvalidEntrypoint message ("is ...", "would ...")."""
        environment = self.environment
        inner = lambda_path.rpartition("/")[2]
        if environment is None:
            return "is not laid out"
        if lambda_path.startswith(TASK_ROOT):
            if environment.task is None:
                state = "not executable" if (self.task / inner).exists() else "not"
                return f"is {state} in the package.artifact zip"
            source = environment.task.files.get(inner)
            if source is not None:
                return f"is {source} (not executable)"
            if (environment.task.root / inner).exists():
                return f"is left out of the function package by its patterns ({environment.task.root / inner})"
            return "is not in the function package"
        found = next(((package.files[inner], package) for package in reversed(self.layers)
                      if inner in package.files), None)
        if found is not None:
            source, package = found
            return f"is {source} in {package.label} (not executable)"
        if not self.layers:
            return "would come from a layer, and the function has none of the project's layers"
        return "is in none of the function's layers"
