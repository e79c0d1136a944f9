"""The templates' escaping filters (cookiecutters/_shared/scaffold_escapes.py), each read back by the real parser of
its language: PyYAML and js-yaml (what the Serverless Framework reads serverless.yml with), JSON in Python and
Node, PHP, bash and dash, Python. Every hostile string must come back exactly, character for character."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from runtime_scaffold import templates

from .conftest import REPO_ROOT, require_tool


def _load_escapes() -> ModuleType:
    path = templates.TEMPLATES_DIR / "_shared" / "scaffold_escapes.py"
    spec = importlib.util.spec_from_file_location("scaffold_escapes_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


escapes = _load_escapes()

# Every family a value can attack a file with: line breaks of each kind, quotes, comments, mapping and sequence
# syntax, Jinja, command substitution, backslashes, control characters, YAML's typed words and indicators,
# PHP's tags, Unicode that a reader may fold or drop.
HOSTILE = [
    "", "plain", "a\nb: c", "x\r\ny", "trailing\n", "\n", "'", '"', "''", "#c", " # c", "a #b", "a: b", "a:b",
    "- item", "? key", "{{ 7*7 }}", "{% raw %}", "{#", "$(id)", "${HOME}", "`id`", "\\", "\\n", "\\'", "'\\",
    "a\\", "\0", "a\0b", "\x1b[31m", "\x7f", "\t", "tab\there", "\u2028", "\u2029", "\x85", "\ufeff", "\u00a0",
    "é", "日本", "😀", "\ufffe", "yes", "No", "ON", "off", "y", "n", "null", "Null", "~", "true", "False",
    "123", "-1", "0x1F", "0o17", "1e3", "1_000", "12:30", "2001-12-14", ".inf", ".NaN", "*alias", "&anchor",
    "!tag", "!!str x", "%dir", "@at", "|", ">", "[a, b]", "{a: b}", "a,b", "  leading", "trailing  ", "---",
    "...", "<?php echo 1; ?>", "?>", "$x", "{$x}", "%s%n", "-n", "--", "*", "?", "[a-z]", "~root", "!", "a b",
    "src/hello.hello", "us-east-1", "x86_64", "hello-php",
]
NO_NUL = [value for value in HOSTILE if "\0" not in value]


@pytest.mark.parametrize("value", HOSTILE)
def test_yaml_str_reads_back_in_pyyaml_as_the_same_string(value: str) -> None:
    assert yaml.safe_load(f"key: {escapes.yaml_str(value)}\nnext: 1\n") == {"key": value, "next": 1}
    assert yaml.safe_load(f"- {{ Ref: {escapes.yaml_str(value)} }}\n") == [{"Ref": value}]


@pytest.mark.parametrize("value", HOSTILE)
def test_yaml_comment_is_one_line_that_hides_nothing(value: str) -> None:
    comment = escapes.yaml_comment(value)
    assert yaml.safe_load(f"key: 1 # {comment}\nnext: 2\n") == {"key": 1, "next": 2}
    assert not set(comment) & set("\n\r\x85\u2028\u2029")
    plain = all(char.isprintable() and char not in "\u2028\u2029\ufeff" for char in value)
    assert comment == value if plain else yaml.safe_load(comment) == value


def test_plain_values_stay_plain() -> None:
    for value in ("us-east-1", "x86_64", "hello-php", "src/hello.hello", "PhpDashruntimeLambdaLayer"):
        assert escapes.yaml_str(value) == value


def test_yaml_int() -> None:
    assert escapes.yaml_int("128") == "128"
    assert escapes.yaml_int("010") == "10"  # YAML 1.1 would read 010 as octal 8
    for bad in ("", "abc", "1\n", " 1", "-1", "1.5", "١٢", "²"):
        with pytest.raises(ValueError, match="not a whole number"):
            escapes.yaml_int(bad)


def test_js_yaml_and_node_json_read_the_same_strings() -> None:
    """js-yaml is what the Serverless Framework parses serverless.yml with."""
    node = require_tool("node")
    documents = [f"key: {escapes.yaml_str(value)} # {escapes.yaml_comment(value)}\n" for value in HOSTILE]
    literals = [escapes.json_str(value) for value in HOSTILE]
    script = """
const yaml = require(process.argv[1]);
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.documents.map((doc) => yaml.load(doc).key);
const json = input.literals.map((text) => JSON.parse(text));
const js = input.literals.map((text) => eval('(' + text + ')'));
process.stdout.write(JSON.stringify({ out, json, js }));
"""
    result = subprocess.run(
        [node, "-e", script, str(REPO_ROOT / "node_modules" / "js-yaml")],
        input=json.dumps({"documents": documents, "literals": literals}), capture_output=True, text=True,
        check=True, timeout=60,
    )
    read = json.loads(result.stdout)
    assert read["out"] == HOSTILE
    assert read["json"] == HOSTILE
    assert read["js"] == HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_json_str(value: str) -> None:
    assert json.loads(escapes.json_str(value)) == value


def test_php_str_reads_back_byte_for_byte(tmp_path: Path) -> None:
    php = require_tool("php")
    source = tmp_path / "values.php"
    lines = [f"echo bin2hex({escapes.php_str(value)}), \"\\n\";" for value in HOSTILE]
    source.write_bytes(("<?php\n" + "\n".join(lines) + "\n").encode())
    assert "No syntax errors" in subprocess.run([php, "-l", str(source)], capture_output=True, text=True).stdout
    result = subprocess.run([php, str(source)], capture_output=True, text=True, check=True, timeout=60)
    assert [bytes.fromhex(line).decode() for line in result.stdout.split("\n")[:-1]] == HOSTILE


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_sh_str_reads_back_byte_for_byte(tmp_path: Path, shell: str) -> None:
    interpreter = require_tool(shell)
    script = tmp_path / "values.sh"
    out = tmp_path / "out"
    out.mkdir()
    lines = [f"v={escapes.sh_str(value)}; printf '%s' \"$v\" > {out}/{index}" for index, value in enumerate(NO_NUL)]
    lines += [f"printf '%s' {escapes.sh_str(value)} > {out}/word-{index}" for index, value in enumerate(NO_NUL)]
    script.write_bytes(("\n".join(lines) + "\n").encode())
    subprocess.run([interpreter, "-n", str(script)], check=True)
    subprocess.run([interpreter, str(script)], check=True, timeout=60, cwd=tmp_path)
    assert [(out / str(index)).read_bytes().decode() for index in range(len(NO_NUL))] == NO_NUL
    assert [(out / f"word-{index}").read_bytes().decode() for index in range(len(NO_NUL))] == NO_NUL


def test_sh_str_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        escapes.sh_str("a\0b")


@pytest.mark.parametrize("value", HOSTILE)
def test_py_str(value: str) -> None:
    assert ast.literal_eval(escapes.py_str(value)) == value


def test_every_template_loads_the_filters() -> None:
    for language in templates.list_languages():
        assert language.defaults["_extensions"] == ["scaffold_escapes.Escapes"], language.name
        linked = language.path / "scaffold_escapes.py"
        assert linked.read_bytes() == (templates.TEMPLATES_DIR / "_shared" / "scaffold_escapes.py").read_bytes()


def test_an_environment_built_outside_cookiecutter_gets_the_filters(tmp_path: Path) -> None:
    """A Jinja environment that runtime-scaffold's code builds with a template's context (as an overlay renderer
    does) loads the same filters, without the template folder on sys.path."""
    script = (
        "import json, sys\n"
        "from runtime_scaffold import templates\n"
        "from cookiecutter.environment import StrictEnvironment\n"
        "context = json.loads((templates.TEMPLATES_DIR / 'php' / 'cookiecutter.json').read_text())\n"
        "environment = StrictEnvironment(context={'cookiecutter': context})\n"
        "sys.stdout.write(environment.from_string('{{ v | yaml_str }} {{ v | sh_str }}').render(v='a: b'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "'a: b' 'a: b'"
