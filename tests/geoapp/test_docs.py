"""Every command, option and configuration key is documented (datasette's test_docs style)."""

from __future__ import annotations

import re

import pytest

from geoapp.cli import main
from geoapp.config import DEFAULTS, ENV_ONLY, ENV_PREFIX
from tests.conftest import REPO

CLI_DOC = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
CONFIG_DOC = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")


def sections(markdown: str) -> dict[str, str]:
    """Text under each ``## `geoapp COMMAND ...` `` heading, by command name."""
    out = {}
    parts = re.split(r"^## `geoapp (\w+)[^`]*`\s*$", markdown, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        out[name] = body
    return out


@pytest.mark.parametrize("command", sorted(main.commands))
def test_command_is_documented_with_its_options(command):
    body = sections(CLI_DOC).get(command)
    assert body is not None, f"docs/cli.md has no '## `geoapp {command}`' section"
    for param in main.commands[command].params:
        if param.param_type_name == "option" and param.name != "help":
            longest = max(param.opts, key=len)
            assert f"`{longest}`" in body, f"{command} {longest} is not in docs/cli.md"
    assert f"geoapp {command}" in body.split("```bash", 1)[-1], "no example"


def test_no_documented_command_is_missing_from_the_cli():
    assert set(sections(CLI_DOC)) == set(main.commands)


def test_exit_statuses_are_documented():
    from geoapp.cli import EXIT_ERROR, EXIT_OK, EXIT_REJECTED, EXIT_USAGE

    for status in (EXIT_OK, EXIT_ERROR, EXIT_REJECTED, EXIT_USAGE):
        assert re.search(rf"^\| {status} \|", CLI_DOC, re.M)


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_config_key_is_documented(key):
    row = re.search(rf"^\| `{key}` \| `{ENV_PREFIX}{key}` \|.*$", CONFIG_DOC, re.M)
    assert row, f"docs/configuration.md has no table row for {key}"


@pytest.mark.parametrize("variable", sorted(ENV_ONLY))
def test_environment_variable_is_documented(variable):
    assert f"| `{variable}` |" in CONFIG_DOC


def test_every_api_route_is_documented(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule == "/api/":
            continue
        documented = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: f"<{m.group(1)}>", rule.rule)
        documented = documented.replace("<workspace>", "<ws>")
        assert f"`{documented}`" in CLI_DOC, rule.rule
