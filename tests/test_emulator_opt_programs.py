"""The program under /opt a bootstrap starts (`#!/opt/bin/X`, or `exec /opt/bin/X ...` in a shell bootstrap) runs
locally as the layer's own copy when it can run on this machine, else as the host's on PATH, and the log says
which; with neither, the bootstrap fails as on Lambda and one line says how to get the program."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from runtime_scaffold.cli import cli
from runtime_scaffold.elf import ELF_MACHINES, host_machine
from runtime_scaffold.emulator import LocalLambda
from runtime_scaffold.emulator.environment import opt_program

from .conftest import REPO_ROOT
from .emulator_fixtures import PYTHON_BOOTSTRAP, write_project

Factory = Callable[..., LocalLambda]
# A shell bootstrap in the new languages' style: nothing but an exec of the layer's binary on a layer file.
EXEC_BOOTSTRAP = '#!/bin/sh\n# comment /opt/not-a-path\nexec /opt/bin/python3 /opt/runtime.py "$@"\n'


def exec_project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "p", bootstrap=EXEC_BOOTSTRAP)
    (root / "runtime" / "runtime.py").write_text(PYTHON_BOOTSTRAP)
    return root


def host_bin(tmp_path: Path, *names: str) -> str:
    folder = tmp_path / "hostbin"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).symlink_to(sys.executable)
    return f"{folder}:/usr/bin:/bin"


def test_the_program_of_a_shebang_and_of_an_exec_line(tmp_path: Path) -> None:
    cases = {
        "#!/opt/bin/php -d x=1\n<?php\n": ("/opt/bin/php", "-d x=1", None),
        "#!/bin/sh\nset -e\n  exec /opt/bin/bun run /opt/x.ts\n": ("/opt/bin/bun", "", "/bin/sh"),
        "#!/bin/bash -e\nexec /opt/bin/node /opt/index.mjs\n": ("/opt/bin/node", "-e", "/bin/bash"),
        "#!/bin/sh\nexec /usr/bin/env node\n": None,  # not under /opt: nothing to stand in for
        "#!/usr/bin/python3\nexec('/opt/bin/x')\n": None,  # not a shell script
    }
    for number, (text, expected) in enumerate(cases.items()):
        bootstrap = tmp_path / f"bootstrap{number}"
        bootstrap.write_text(text)
        program = opt_program(bootstrap)
        assert (program and (program.path, program.argument, program.shell)) == expected, text


def test_exec_line_runs_the_layers_binary(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    root = exec_project(tmp_path)
    (root / "runtime" / "bin").mkdir()
    (root / "runtime" / "bin" / "python3").symlink_to(sys.executable)
    local = local_lambda(root, host_environment={"PATH": "/usr/bin:/bin"})
    result = local.invoke("hello", b'{"echo": "from the layer"}')
    assert (result.payload, result.error_type) == (b'"from the layer"', None)
    assert f"scaffold: /opt/bin/python3: running the layer's {Path(sys.executable).resolve()}" in \
        logs.text  # type: ignore[attr-defined]


def test_a_bin_sh_exec_bootstrap_runs_with_bash_as_on_amazon_linux(tmp_path: Path, local_lambda: Factory) -> None:
    """/bin/sh is bash on Amazon Linux 2023: a #!/bin/sh bootstrap that hands over to a layer's binary after
    something only bash's sh takes (the AWS walkthrough's `set -o pipefail`) runs here too, where /bin/sh is dash."""
    root = write_project(tmp_path / "p", bootstrap="#!/bin/sh\nset -euo pipefail\n" + EXEC_BOOTSTRAP.split("\n", 1)[1])
    (root / "runtime" / "runtime.py").write_text(PYTHON_BOOTSTRAP)
    result = local_lambda(root, host_environment={"PATH": host_bin(tmp_path, "python3")}).invoke("hello", b"3")
    assert (result.payload, result.error_type) == (b"3", None)


def test_exec_line_falls_back_to_the_host(tmp_path: Path, local_lambda: Factory, logs: object) -> None:
    root = exec_project(tmp_path)
    path = host_bin(tmp_path, "python3")
    result = local_lambda(root, host_environment={"PATH": path}).invoke("hello", b'{"echo": 1}')
    assert (result.payload, result.error_type) == (b"1", None)
    assert f"/opt/bin/python3 is not in the layers: running the host's {tmp_path}/hostbin/python3" in \
        logs.text  # type: ignore[attr-defined]


def test_a_layer_binary_for_the_other_architecture_is_not_run(tmp_path: Path, local_lambda: Factory,
                                                                logs: object) -> None:
    root = exec_project(tmp_path)
    other = next(machine for machine in ELF_MACHINES.values() if machine != host_machine())
    binary = root / "runtime" / "bin" / "python3"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(11) + other.to_bytes(2, "little") + bytes(40))
    binary.chmod(0o755)
    result = local_lambda(root, host_environment={"PATH": host_bin(tmp_path, "python3")}).invoke("hello", b"2")
    assert (result.payload, result.error_type) == (b"2", None)
    assert "/opt/bin/python3 cannot run here (the layer's" in logs.text  # type: ignore[attr-defined]
    assert "running the host's" in logs.text  # type: ignore[attr-defined]


def test_no_program_anywhere_fails_as_on_lambda_and_says_once_how_to_get_it(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", bootstrap="#!/bin/sh\nexec /opt/bin/bun /opt/lambda-runtime/index.ts\n")
    (root / "runtime" / "build-layer.sh").write_text("#!/bin/sh\n")
    result = CliRunner(env={"PATH": "/usr/bin/nothing-here"}).invoke(cli, ["invoke", "hello", "--project", str(root)])
    assert result.exit_code == 1
    assert "exit status 127" in result.stdout  # what Lambda reports: the shell's exec found nothing
    hint = ("/opt/bin/bun is neither in the layers nor on PATH: build it into the layer with runtime/build-layer.sh,"
            " or install bun here (npm install -g bun@1.4.5)")
    assert (result.stdout + result.stderr).count(hint) == 1, result.stdout + result.stderr


def test_php_without_php_says_what_to_install_once(tmp_path: Path) -> None:
    root = Path(shutil.copytree(REPO_ROOT / "examples" / "php", tmp_path / "php", symlinks=True))
    result = CliRunner(env={"PATH": "/usr/bin/nothing-here"}).invoke(
        cli, ["invoke", "hello", "--project", str(root), "--data", '{"name": "Ada"}'])
    assert result.exit_code == 1
    everything = result.stdout + result.stderr
    assert everything.count("php-cli and php-curl on Debian/Ubuntu, brew install php on macOS") == 1, everything
    assert "build it into the layer with runtime/build-php.sh" in everything
