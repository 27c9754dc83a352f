"""Settings layers: defaults < project file < environment < --set, every key reachable, bad keys named with their source."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from leadgraph.config import Paths, Settings
from leadgraph.settings_loader import SettingsError, init_text, resolve

# One key per section, each a value different from its default, as TOML literals.
KEYS = {
    "simulate.seed": ("11", 11),
    "ingest.max_line_bytes": ("4096", 4096),
    "validate.max_bad_row_fraction": ("0.125", 0.125),
    "graph.windows_days": ("[3, 9]", (3, 9)),
    "labels.anchor_stride_days": ("21", 21),
    "train.lr": ("0.0125", 0.0125),
    "train.tabular.num_leaves": ("7", 7),
    "drift.on_severe": ('"hold"', "hold"),
    "publish.top_per_territory": ("17", 17),
    "score.weight_contract": ("0.6", 0.6),
    "explain.min_growth_ratio": ("1.75", 1.75),
    "serve.port": ("4311", 4311),
}


def _get(settings: Settings, dotted: str) -> object:
    value: object = settings
    for part in dotted.split("."):
        value = getattr(value, "validate_" if part == "validate" else part)
    return value


def _toml(dotted: str, literal: str) -> str:
    table, _, key = dotted.rpartition(".")
    return f"[{table}]\n{key} = {literal}\n"


@pytest.mark.parametrize("dotted", sorted(KEYS))
def test_every_section_is_reachable_from_each_layer(dotted: str, tmp_path: Path) -> None:
    literal, expected = KEYS[dotted]
    (tmp_path / "leadgraph.toml").write_text(_toml(dotted, literal))
    from_file = resolve(cwd=tmp_path, environ={})
    assert _get(from_file.settings, dotted) == expected and from_file.origin(dotted).startswith("file ")
    var = "LEADGRAPH_" + dotted.upper().replace(".", "__")
    from_env = resolve(cwd=tmp_path / "elsewhere", environ={var: literal})
    assert _get(from_env.settings, dotted) == expected and from_env.origin(dotted) == f"environment {var}"
    from_set = resolve(cwd=tmp_path / "elsewhere", environ={}, sets=[f"{dotted}={literal}"])
    assert _get(from_set.settings, dotted) == expected and from_set.origin(dotted) == f"--set {dotted}"
    defaults = resolve(cwd=tmp_path / "elsewhere", environ={})
    assert _get(defaults.settings, dotted) != expected and defaults.origin(dotted) == "default"


def test_later_layers_win_and_sources_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "leadgraph.toml").write_text('home = "data"\n[train]\nlr = 0.1\nhidden = 32\nmodel = "stl-hgb"\n')
    env = {"LEADGRAPH_TRAIN__LR": "0.2", "LEADGRAPH_TRAIN__HIDDEN": "48"}
    resolved = resolve(cwd=tmp_path, environ=env, sets=["train.lr=0.3"])
    train = resolved.settings.train
    assert (train.lr, train.hidden, train.model, train.layers) == (0.3, 48, "stl-hgb", 3)
    assert resolved.origin("train.lr") == "--set train.lr"
    assert resolved.origin("train.hidden") == "environment LEADGRAPH_TRAIN__HIDDEN"
    assert resolved.origin("train.model") == f"file {tmp_path / 'leadgraph.toml'}"
    assert resolved.origin("train.layers") == "default"
    # The file's home is relative to the file; LEADGRAPH_HOME beats it and --home beats both.
    assert resolved.settings.paths.home == tmp_path / "data"
    assert resolve(cwd=tmp_path, environ={"LEADGRAPH_HOME": str(tmp_path / "e")}).settings.paths.home == tmp_path / "e"
    chosen = resolve(home=tmp_path / "h", cwd=tmp_path, environ={"LEADGRAPH_HOME": str(tmp_path / "e")})
    assert chosen.settings.paths.home == tmp_path / "h" and chosen.origin("paths.home") == "--home"


def test_config_option_and_variable_name_the_file(tmp_path: Path) -> None:
    other = tmp_path / "team.toml"
    other.write_text("[publish]\ntop_per_territory = 5\n")
    assert resolve(config_file=other, cwd=tmp_path, environ={}).settings.publish.top_per_territory == 5
    assert resolve(cwd=tmp_path, environ={"LEADGRAPH_CONFIG": str(other)}).settings.publish.top_per_territory == 5
    with pytest.raises(SettingsError, match=r"missing.toml \(--config\) does not exist"):
        resolve(config_file=tmp_path / "missing.toml", cwd=tmp_path, environ={})


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"sets": ["train.lrr=1"]}, r"unknown setting 'train.lrr' from --set train.lrr"),
        ({"sets": ["trian.lr=1"]}, r"unknown setting 'trian' from --set trian.lr"),
        ({"sets": ["train.lr=fast"]}, r"setting train.lr = 'fast' from --set train.lr: Input should be a valid number"),
        ({"sets": ["drift.severe_share_drifted=1.5"]}, r"drift.severe_share_drifted = 1.5 from --set .*less than or equal to 1"),
        ({"sets": ["train.hidden=0"]}, r"train.hidden = 0 from --set train.hidden: Input should be greater than 0"),
        ({"sets": ["lr=1"]}, r"--set 'lr=1': expected section.key=value"),
        ({"environ": {"LEADGRAPH_PUBLISH__TOP": "3"}}, r"unknown setting 'publish.top' from environment LEADGRAPH_PUBLISH__TOP"),
        ({"environ": {"LEADGRAPH_SERVE__PORT": "99999"}}, r"serve.port = 99999 from environment LEADGRAPH_SERVE__PORT"),
        ({"environ": {"LEADGRAPH_TRAINLR": "1"}}, r"LEADGRAPH_TRAINLR names no setting"),
        ({"file": "[train]\nmodle = 'x'\n"}, r"unknown setting 'train.modle' from file .*leadgraph.toml"),
        ({"file": "[drift]\non_severe = 'panic'\n"}, r"drift.on_severe = 'panic' from file .*: Input should be 'retrain', 'hold' or 'warn'"),
        ({"file": "[train\n"}, r"leadgraph.toml is not valid TOML"),
        ({"file": "[paths]\nhome = 'x'\n"}, r"unknown setting 'paths' .*--home or LEADGRAPH_HOME"),
    ],
)
def test_bad_settings_name_the_key_and_its_source(layer: dict, message: str, tmp_path: Path) -> None:
    if "file" in layer:
        (tmp_path / "leadgraph.toml").write_text(layer["file"])
    with pytest.raises(SettingsError, match=message):
        resolve(cwd=tmp_path, environ=layer.get("environ", {}), sets=layer.get("sets", ()))


@pytest.mark.parametrize("var", ["LEADGRAPH_DBLP", "LEADGRAPH_TORCH_THREADS"])
def test_benchmark_variables_are_not_read_as_settings(var: str, tmp_path: Path) -> None:
    loaded = resolve(cwd=tmp_path, environ={var: "2"})
    assert loaded.settings == resolve(cwd=tmp_path, environ={}).settings


def test_init_file_lists_every_key_at_its_default(tmp_path: Path) -> None:
    defaults = Settings(paths=Paths(home=tmp_path / "var"))
    text = init_text(defaults)
    assert "[train.tabular]" in text and "[validate]" in text and "# lr = 0.005" in text
    # Uncommenting every key gives back exactly the defaults: no key is missing or mis-written.
    uncommented = re.sub(r"^# (?=[\w\"]+ = )", "", text, flags=re.M)
    (tmp_path / "leadgraph.toml").write_text(uncommented)
    loaded = resolve(cwd=tmp_path, environ={})
    assert loaded.settings == defaults
    assert all(origin.startswith("file ") for key, origin in loaded.origins.items() if key != "paths.home")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("leadgraph")
    env = {"PATH": str(exe.parent), "LEADGRAPH_HOME": str(cwd / "home")}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_config_verbs_and_one_line_errors(tmp_path: Path) -> None:
    assert _cli("config", "init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "leadgraph.toml").read_text().startswith("# leadgraph settings")
    assert _cli("config", "init", cwd=tmp_path).returncode == 2
    shown = _cli("config", "show", "--set", "train.lr=0.02", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "train.lr = 0.02  # --set train.lr" in shown.stdout
    assert "train.hidden = 64  # default" in shown.stdout
    assert f"home = {tmp_path / 'home'}  # environment LEADGRAPH_HOME" in shown.stdout
    # Any verb refuses a bad setting before doing work: one line, exit 2, no traceback.
    bad = _cli("models", "--set", "train.lr=-1", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stdout + bad.stderr
    assert "settings: setting train.lr = -1 from --set train.lr: Input should be greater than 0" in bad.stdout


def test_served_flow_runs_resolve_the_same_settings(tmp_path: Path) -> None:
    """What a command resolved travels to child processes (served flow runs) through the environment."""
    from leadgraph.settings_loader import child_environment

    (tmp_path / "team.toml").write_text("[train]\nhidden = 24\n")
    sets = ["drift.on_severe=hold", "train.fanouts=[4, 2]"]
    parent = resolve(home=tmp_path / "h", config_file=tmp_path / "team.toml", cwd=tmp_path, environ={}, sets=sets)
    child = resolve(cwd=tmp_path / "elsewhere", environ=child_environment(parent, sets))
    assert child.settings == parent.settings
