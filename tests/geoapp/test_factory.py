"""The app factory and its configuration: order of sources, defaults, no work at import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from geoapp import create_app
from geoapp.config import DEFAULTS, ConfigError, from_environment
from tests.conftest import REPO


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("GEOAPP_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults(clean_env, tmp_path):
    app = create_app(instance_path=str(tmp_path))
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/jangkau.sqlite"
    assert app.config["DEFAULT_LOCALE"] == "id"
    assert app.config["TIMEZONE"] == "Asia/Jakarta"
    assert app.config["REPORT_PAGE_SIZE"] == 500
    assert app.config["DEFAULT_WORKSPACE"] == "default"
    assert set(DEFAULTS) <= set(app.config)


def test_creating_the_app_touches_no_file(clean_env, tmp_path):
    create_app(instance_path=str(tmp_path / "instance"))
    create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'x.sqlite'}"})
    assert list(tmp_path.iterdir()) == []


def test_instance_config_then_environment_then_test_config(clean_env, tmp_path):
    (tmp_path / "config.py").write_text(
        "SECRET_KEY = 'from-instance'\nREPORT_PAGE_SIZE = 50\nDEFAULT_LOCALE = 'en'\n",
        encoding="utf-8",
    )
    app = create_app(instance_path=str(tmp_path))
    assert app.config["SECRET_KEY"] == "from-instance"
    assert app.config["REPORT_PAGE_SIZE"] == 50
    clean_env.setenv("GEOAPP_REPORT_PAGE_SIZE", "20")
    clean_env.setenv("GEOAPP_DATABASE_URL", "sqlite:////srv/jangkau.sqlite")
    app = create_app(instance_path=str(tmp_path))
    assert app.config["REPORT_PAGE_SIZE"] == 20
    assert app.config["SECRET_KEY"] == "from-instance"
    assert app.config["DATABASE_URL"] == "sqlite:////srv/jangkau.sqlite"
    app = create_app({"REPORT_PAGE_SIZE": 7}, instance_path=str(tmp_path))
    assert app.config["REPORT_PAGE_SIZE"] == 7
    assert app.config["SECRET_KEY"] == "dev"  # a test config replaces the instance file


def test_instance_path_from_environment(clean_env, tmp_path):
    clean_env.setenv("GEOAPP_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app()
    assert app.instance_path == str(tmp_path / "inst")
    assert app.config["DATABASE_URL"].endswith("/inst/jangkau.sqlite")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GEOAPP_REPORT_PAGE_SIZE": "many"}, "is not a whole number"),
    ],
)
def test_bad_environment_values(environ, message):
    with pytest.raises(ConfigError, match=message):
        from_environment(environ)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"DEFAULT_LOCALE": "fr"}, "DEFAULT_LOCALE must be one of id, en"),
        ({"REPORT_PAGE_SIZE": 0}, "REPORT_PAGE_SIZE must be"),
        ({"DATABASE_URL": "jangkau.sqlite"}, "DATABASE_URL must be a URL"),
    ],
)
def test_bad_config_values(clean_env, config, message):
    with pytest.raises(ConfigError, match=message):
        create_app(config)


def test_import_and_factory_load_nothing_heavy():
    code = (
        "import sys, geoapp, geoapp.cli\n"
        "geoapp.create_app({'DATABASE_URL': 'sqlite:///unused.sqlite'})\n"
        "heavy = ['geopandas', 'pandas', 'numpy', 'shapely', 'sqlalchemy', 'pyogrio',\n"
        "         'folium', 'waitress', 'tqdm', 'layers.storage', 'layers.validate']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOAPP_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_store_opens_lazily_and_once(app):
    from geoapp.store import EXTENSION, get_store

    holder = app.extensions[EXTENSION]
    assert get_store(app) is get_store(app)
    assert holder.url == app.config["DATABASE_URL"]
