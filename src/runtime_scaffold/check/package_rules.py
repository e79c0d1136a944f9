"""Rules on what the zips hold: the handler's file, the 250 MB limit, layer folders packaged twice."""

from __future__ import annotations

from collections.abc import Iterator

from runtime_scaffold.check.file_rules import read_head
from runtime_scaffold.check.findings import Finding, Severity
from runtime_scaffold.execution_environment import ExecutionEnvironment, config_name, shown
from runtime_scaffold.lambda_limits import MAX_UNZIPPED_BYTES
from runtime_scaffold.packaging import walk_files
from runtime_scaffold.project import Project


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return _megabytes(size)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def handler_stems(handler: str) -> list[str]:
    """Files (without extension) a ``file.method`` handler may name: ``src/hello.hello`` -> src/hello."""
    parts = handler.split(".")
    return [".".join(parts[:count]) for count in range(1, len(parts))]


def _matches(path: str, stems: list[str]) -> bool:
    return any(path == stem or path.startswith(stem + ".") for stem in stems)


def check_handler(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    function = environment.function
    config = config_name(project)
    task = environment.task
    if task is None:
        return
    handler = function.handler
    if not handler:
        yield Finding(
            "handler-file-missing",
            Severity.ERROR,
            config,
            f"function {function.key} has no handler: the Framework requires one and your bootstrap "
            "reads it from _HANDLER",
            f"set functions.{function.key}.handler: <file>.<method>",
        )
        return
    if handler in task.files:  # e.g. a compiled runtime whose handler names the binary itself
        return
    bootstrap = environment.bootstrap()
    if bootstrap is not None and read_head(bootstrap[0]).startswith(b"\x7fELF"):
        return  # a compiled bootstrap (Go, Rust...) is the function; its handler is often a placeholder
    stems = handler_stems(handler.removeprefix("./"))
    if not stems:
        yield Finding(
            "handler-undeterminable",
            Severity.WARNING,
            config,
            f"handler {handler!r} of function {function.key} is not of the form <file>.<method>, "
            "so its file cannot be checked; your bootstrap alone decides what _HANDLER means",
            "use <file>.<method> (e.g. function.handler for function.sh) if your bootstrap allows it",
        )
        return
    if any(_matches(path, stems) for path in task.files):
        return
    layer_roots = [layer.path for layer in project.layers.values() if layer.path != project.root]
    on_disk = [
        path
        for path, source in walk_files(project.root, prune=(".git", ".serverless", "node_modules")).items()
        if _matches(path, stems) and not any(source.is_relative_to(root) for root in layer_roots)
    ]
    task_root = "/var/task"
    if on_disk:
        yield Finding(
            "handler-file-missing",
            Severity.ERROR,
            on_disk[0],
            f"{on_disk[0]} (handler {handler!r} of function {function.key}) exists but is not in the "
            f"function package: package.patterns leaves it out, so {task_root} will not have it",
            f"remove the package.patterns entry that excludes {on_disk[0]}",
        )
        return
    yield Finding(
        "handler-file-missing",
        Severity.ERROR,
        config,
        f"handler {handler!r} of function {function.key} names no file in the task root: "
        f"no {stems[0]}.* in the function package ({task_root})",
        f"create {stems[0]}.<ext> at the project root (outside the layer folders), or set "
        f"functions.{function.key}.handler: <file>.<method> to match an existing file",
    )


def check_size(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    packages = environment.packages()
    sizes = [(package.label, package.size()) for package in packages]
    total = sum(size for _, size in sizes)
    if total <= MAX_UNZIPPED_BYTES:
        return
    parts = ", ".join(
        f"{label} {_megabytes(size)}" for label, size in sorted(sizes, key=lambda item: -item[1])
    )
    unseen = f" (not counting {', '.join(environment.unknown_layers)})" if environment.unknown_layers else ""
    yield Finding(
        "package-too-large",
        Severity.ERROR,
        config_name(project),
        f"function {environment.function.key} and its layers hold {_megabytes(total)} unzipped{unseen}: "
        f"{parts}; Lambda's limit is 250 MB, so the deploy fails",
        "exclude what the function does not need at run time (package.patterns: '!path/**'), strip "
        "binaries, or move to a container image",
    )


def check_layer_folders(project: Project, environment: ExecutionEnvironment) -> Iterator[Finding]:
    task = environment.task
    if task is None:
        return
    for layer in project.layers.values():
        if layer.path == project.root or not layer.path.is_relative_to(project.root):
            continue
        folder = shown(project, layer.path)
        inside = [path for path in task.files if path.startswith(folder + "/")]
        if not inside:
            continue
        size = sum(task.files[path].stat().st_size for path in inside)
        raw_path = str(((project.config.get("layers") or {}).get(layer.key) or {}).get("path", ""))
        if raw_path.endswith("/"):
            # The Framework leaves `<path>/**` out of function zips; `runtime//**` matches nothing.
            fix = (
                f"write layers.{layer.key}.path as {raw_path.rstrip('/')!r} (the trailing / stops the "
                f"Framework from leaving the folder out), or add '!{folder}/**' to package.patterns"
            )
        else:
            fix = (
                f"remove the package.patterns entry that adds {folder}/ back, or end the list with "
                f"'!{folder}/**'"
            )
        count = f"{len(inside)} file{'' if len(inside) == 1 else 's'}"
        yield Finding(
            "layer-shipped-twice",
            Severity.WARNING,
            folder + "/",
            f"the function package also holds the layer folder {folder}/ ({count}, {_size(size)}): it is "
            f"shipped twice, as {folder}/ in /var/task and as layer {layer.key!r} in /opt",
            fix,
        )
