"""The sandbox's file layout and bootstrap discovery, without starting anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime_scaffold.emulator.environment import InvalidEntrypoint, find_entrypoint, lay_out_opt


def make_layer(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_one_layer_is_linked_whole(tmp_path: Path) -> None:
    layer = make_layer(tmp_path / "layer", {"bootstrap": "x", "bin/tool": "t"})
    lay_out_opt([layer], tmp_path / "opt")
    assert (tmp_path / "opt").resolve() == layer.resolve()
    (layer / "late").write_text("added after")  # edits show up without a new layout
    assert (tmp_path / "opt" / "late").read_text() == "added after"


def test_layers_merge_in_order_and_later_ones_win(tmp_path: Path) -> None:
    first = make_layer(tmp_path / "one", {"bootstrap": "first", "lib/a.so": "a", "share/x": "1"})
    second = make_layer(tmp_path / "two", {"bootstrap": "second", "lib/b.so": "b"})
    opt = tmp_path / "opt"
    lay_out_opt([first, second, tmp_path / "missing"], opt)
    assert (opt / "bootstrap").read_text() == "second"
    assert sorted(p.name for p in (opt / "lib").iterdir()) == ["a.so", "b.so"]
    assert (opt / "share" / "x").read_text() == "1"
    lay_out_opt([second], opt)  # a fresh layout replaces the old one
    assert not (opt / "share").exists()


def test_no_layer_is_an_empty_opt(tmp_path: Path) -> None:
    lay_out_opt([], tmp_path / "opt")
    assert list((tmp_path / "opt").iterdir()) == []


def test_task_root_first_then_opt(tmp_path: Path) -> None:
    task_root, opt = tmp_path / "task", tmp_path / "opt"
    make_layer(opt, {"bootstrap": "#!/bin/bash\n"})
    (opt / "bootstrap").chmod(0o755)
    task_root.mkdir()
    assert find_entrypoint(task_root, opt, host_path="").bootstrap == opt / "bootstrap"
    make_layer(task_root, {"bootstrap": "#!/bin/bash\n"})
    (task_root / "bootstrap").chmod(0o755)
    entrypoint = find_entrypoint(task_root, opt, host_path="")
    assert entrypoint.bootstrap == task_root / "bootstrap"
    assert entrypoint.argv == [str(task_root / "bootstrap")] and entrypoint.note is None


def test_nothing_to_run_lists_the_paths_looked_at(tmp_path: Path) -> None:
    (tmp_path / "opt").mkdir()
    with pytest.raises(InvalidEntrypoint) as caught:
        find_entrypoint(tmp_path, tmp_path / "opt", host_path="")
    assert str(caught.value) == (
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]; here /var/task/bootstrap is "
        f"{os.path.realpath(tmp_path / 'bootstrap')} (not there) and /opt/bootstrap would come from a layer, "
        "and the function has none of the project's layers")


def test_opt_shebang_keeps_its_argument(tmp_path: Path) -> None:
    opt = make_layer(tmp_path / "opt", {"bootstrap": "#!/opt/bin/php -d memory_limit=-1\n<?php\n",
                                        "bin/php": ""})
    (opt / "bootstrap").chmod(0o755)
    (opt / "bin" / "php").chmod(0o755)
    entrypoint = find_entrypoint(tmp_path, opt, host_path="")
    assert entrypoint.argv == [str(opt / "bin" / "php"), "-d memory_limit=-1", str(opt / "bootstrap")]


def test_a_bin_sh_bootstrap_runs_with_bash_as_on_amazon_linux(tmp_path: Path) -> None:
    """Amazon Linux 2023's /bin/sh is bash: where the host's is not (dash on Debian, Ubuntu), bash runs it."""
    import shutil

    make_layer(tmp_path, {"bootstrap": "#!/bin/sh -e\n"})
    (tmp_path / "bootstrap").chmod(0o755)
    entrypoint = find_entrypoint(tmp_path, tmp_path / "opt", host_path="")
    if Path("/bin/sh").resolve().name == "bash":
        assert entrypoint.argv == [str(tmp_path / "bootstrap")]
    else:
        bash = shutil.which("bash", path=os.defpath + ":/usr/local/bin")
        assert entrypoint.argv == [bash, "--posix", "-e", str(tmp_path / "bootstrap")]
