"""One settings model per function, checked at its cold start: a missing or wrong variable fails the
handler's import naming the variable, and what the template sets is what the models read."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aepflow.core import settings
from local import template as cfn
from tests.function_env import FUNCTION_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
MODELS = [settings.Settings, settings.StarterSettings, settings.AlertingSettings, settings.ApiSettings,
          settings.IntakeSettings, settings.DriftSettings, settings.RotationSettings, settings.MonitorSettings]


def _import_handler(name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    probe = ("import importlib.util, sys\n"
             f"sys.path.insert(0, 'functions/{name}')\n"
             f"spec = importlib.util.spec_from_file_location('app', 'functions/{name}/app.py')\n"
             "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n")
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": os.environ.get("PATH", ""), **env,
                                            "PYTHONPATH": str(ROOT / "layers" / "aepflow")})


@pytest.mark.parametrize("name", ["api", "create_dataset", "monitor_check", "spec_intake"])
def test_a_handler_without_its_table_fails_its_cold_start_naming_the_variable(name):
    assert _import_handler(name, FUNCTION_ENVIRONMENT).returncode == 0
    env = {k: v for k, v in FUNCTION_ENVIRONMENT.items() if k != "DATAFLOWS_TABLE"}
    done = _import_handler(name, env)
    assert done.returncode != 0 and "SettingsError" in done.stderr and "DATAFLOWS_TABLE: is required" in done.stderr


def test_a_number_that_is_not_one_or_out_of_bounds_fails_the_monitors_cold_start():
    for value, says in (("many", "MONITOR_SHARDS: is not an integer: 'many'"),
                        ("5000", "MONITOR_SHARDS: must be at most 1024")):
        done = _import_handler("monitor_plan", {**FUNCTION_ENVIRONMENT, "MONITOR_SHARDS": value})
        assert done.returncode != 0 and says in done.stderr, done.stderr[-500:]


def test_every_handler_loads_its_settings_at_import():
    for name in FUNCTIONS:
        text = (ROOT / "functions" / name / "app.py").read_text()
        assert "SETTINGS = settings.load(" in text, name


def test_the_values_are_checked_however_the_settings_are_made():
    with pytest.raises(settings.SettingsError, match="AEP_MAX_ATTEMPTS: must be at least 1"):
        settings.Settings(table_name="t", credentials_secret="c", token_cache_secret="x", max_attempts=0)
    with pytest.raises(settings.SettingsError, match="AEP_PLATFORM_URL: must match"):
        settings.Settings(table_name="t", credentials_secret="c", token_cache_secret="x", platform_url="ftp://x")
    with pytest.raises(TypeError, match="no setting tabel_name"):
        settings.Settings(tabel_name="t")
    made = settings.Settings(table_name="t", credentials_secret="c", token_cache_secret="x",
                             platform_url="https://platform.adobe.io/")
    assert made.platform_url == "https://platform.adobe.io" and made.max_attempts == 5
    with pytest.raises(AttributeError, match="frozen"):
        made.table_name = "other"  # type: ignore[misc]


def test_what_the_template_sets_every_function_is_what_the_models_read():
    """No variable the template sets goes unread (but Powertools' own), and every variable a model
    reads without a default is set by the template."""
    template = cfn.load()
    set_by_template = set(template["Globals"]["Function"]["Environment"]["Variables"])
    read = {s.env for model in MODELS for s in model._vars.values()}
    powertools = {v for v in set_by_template if v.startswith("POWERTOOLS_")}
    assert set_by_template - read - powertools == set()
    required = {s.env for model in MODELS for s in model._vars.values() if s.default is settings.MISSING}
    assert required <= set_by_template
