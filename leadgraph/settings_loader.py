"""Resolve one `Settings` object from its layers: defaults, the project file, the environment, `--set`.

Later layers win: the defaults in leadgraph/config.py, then the project file (`--config PATH`,
`LEADGRAPH_CONFIG`, or `leadgraph.toml` in the working directory), then environment variables
`LEADGRAPH_<SECTION>__<KEY>`, then `--set section.key=value`. The control variables (LEADGRAPH_HOME,
LEADGRAPH_CONFIG, LEADGRAPH_DEBUG) are read by pydantic-settings; section keys are read here, because
pydantic-settings ignores unknown variables and keeps no record of where a value came from.
Every value remembers the layer it came from, so an unknown key or a bad value is reported with
its source before any work starts, and `leadgraph config show` can say where each value came from.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadgraph.config import Paths, Settings

ENV_PREFIX = "LEADGRAPH_"
PROJECT_FILE = "leadgraph.toml"
# Environment variables with the prefix that are not settings keys; the last two steer the benchmarks
# (where the DBLP data lies, how many torch threads a benchmark uses).
ENV_CONTROLS = frozenset({"LEADGRAPH_HOME", "LEADGRAPH_CONFIG", "LEADGRAPH_DEBUG", "LEADGRAPH_DBLP",
                          "LEADGRAPH_TORCH_THREADS"})
DEFAULT = "default"


class SettingsError(ValueError):
    """A settings layer names an unknown key, or a value of the wrong type or out of range."""


@dataclass(frozen=True)
class Layer:
    """One source of settings: nested values and, per dotted key, where each came from."""

    name: str
    values: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)

    def origin(self, dotted: str) -> str:
        """The source of a key or section of this layer (its environment variable, file, or --set)."""
        if dotted in self.origins:
            return self.origins[dotted]
        inside = [origin for key, origin in self.origins.items() if key.startswith(f"{dotted}.")]
        return inside[0] if inside else self.name


@dataclass(frozen=True)
class Resolved:
    """The resolved settings and the source of every key that a layer set."""

    settings: Settings
    origins: dict[str, str]
    config_file: Path | None

    def origin(self, dotted: str) -> str:
        """Where a dotted key's value came from (`default` when no layer set it)."""
        return self.origins.get(dotted, DEFAULT)


def parse_value(raw: str) -> Any:
    """A command-line or environment value read as a TOML literal (number, bool, date, list, table), else as text."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _leaves(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested tables into dotted keys."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_leaves(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    """{"a.b.c": v} as {"a": {"b": {"c": v}}}."""
    head, _, rest = dotted.partition(".")
    return {head: _nest(rest, value) if rest else value}


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two nested tables; `over` wins."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _field_key(model: type[BaseModel], key: str) -> str | None:
    """The field a file/env/--set key names (by name or alias), or None."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings section class an annotation holds, if any."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def check_keys(values: Mapping[str, Any], model: type[BaseModel], layer: Layer, prefix: str = "") -> None:
    """Refuse keys that name no setting, naming the key and the layer that set it."""
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        name = _field_key(model, key)
        if name is None or (not prefix and name == "paths"):
            hint = " (the home folder is set by --home or LEADGRAPH_HOME)" if name == "paths" else ""
            raise SettingsError(f"unknown setting {dotted!r} from {layer.origin(dotted)}{hint}")
        annotation = model.model_fields[name].annotation
        section = _model_of(annotation)
        if section is not None and isinstance(value, Mapping):
            check_keys(value, section, layer, f"{dotted}.")
            continue
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is dict and len(args) == 2 and _model_of(args[1]) and isinstance(value, Mapping):
            for item_key, item in value.items():
                if isinstance(item, Mapping):
                    check_keys(item, args[1], layer, f"{dotted}.{item_key}.")


def file_layer(path: Path) -> Layer:
    """The project file's tables (a top-level `home` key is the home folder, relative to the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SettingsError(f"cannot read the settings file {path}: {err.strerror or err}") from err
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path} is not valid TOML: {err}") from err
    return Layer(f"file {path}", values)


class Controls(BaseSettings):
    """The environment variables that steer loading itself rather than naming a setting."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore")

    home: Path | None = None
    config: Path | None = None
    debug: bool = False

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any, env_settings: Any,
                                   dotenv_settings: Any, file_secret_settings: Any) -> tuple[Any, ...]:
        """Only the mapping `read_controls` is given: the caller decides which environment counts."""
        return (init_settings,)


def read_controls(environ: Mapping[str, str]) -> Controls:
    """LEADGRAPH_HOME, LEADGRAPH_CONFIG and LEADGRAPH_DEBUG, typed (empty values count as unset)."""
    present = {var[len(ENV_PREFIX):].lower(): value for var, value in environ.items()
               if var.upper() in ENV_CONTROLS and value != ""}
    try:
        return Controls(**present)
    except ValidationError as err:
        raise SettingsError("; ".join(f"LEADGRAPH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors())) from None


def env_layer(environ: Mapping[str, str]) -> Layer:
    """`LEADGRAPH_<SECTION>__<KEY>[__<KEY>...]` variables as nested settings, each value read as a TOML literal."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for var, raw in environ.items():
        upper = var.upper()
        if not upper.startswith(ENV_PREFIX) or upper in ENV_CONTROLS:
            continue
        parts = [p.lower() for p in upper[len(ENV_PREFIX):].split("__")]
        if len(parts) < 2 or not all(parts):
            raise SettingsError(f"environment variable {var} names no setting: use LEADGRAPH_<SECTION>__<KEY>")
        dotted = ".".join(parts)
        values = merge(values, _nest(dotted, parse_value(raw)))
        origins[dotted] = f"environment {var}"
    return Layer("environment", values, origins)


def set_layer(items: Sequence[str]) -> Layer:
    """`--set section.key=value` items (later items win)."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for item in items:
        dotted, sep, raw = item.partition("=")
        dotted = dotted.strip()
        if not sep or "." not in dotted or not all(dotted.split(".")):
            raise SettingsError(f"--set {item!r}: expected section.key=value")
        values = merge(values, _nest(dotted, parse_value(raw.strip())))
        origins[dotted] = f"--set {dotted}"
    return Layer("--set", values, origins)


def project_file(config_file: Path | None, controls: Controls, cwd: Path) -> Path | None:
    """The project file in use: --config, else LEADGRAPH_CONFIG, else ./leadgraph.toml when it exists."""
    for path, origin in ((config_file, "--config"), (controls.config, "LEADGRAPH_CONFIG")):
        if path is not None:
            if not Path(path).is_file():
                raise SettingsError(f"settings file {path} ({origin}) does not exist")
            return Path(path).resolve()
    local = cwd / PROJECT_FILE
    return local.resolve() if local.is_file() else None


def _home(home: Path | None, controls: Controls, file: Layer | None, file_path: Path | None) -> tuple[Path, str]:
    """The home folder and where it came from: --home, LEADGRAPH_HOME, the file's `home`, else ./var."""
    if home is not None:
        return Path(home).resolve(), "--home"
    if controls.home is not None:
        return controls.home.resolve(), "environment LEADGRAPH_HOME"
    if file is not None and "home" in file.values:
        value = file.values["home"]
        if not isinstance(value, str):
            raise SettingsError(f"home in {file_path} must be a path string, got {value!r}")
        assert file_path is not None
        return (file_path.parent / value).resolve(), file.name
    return Path("var").resolve(), DEFAULT


def _explain(err: ValidationError, layers: Sequence[Layer]) -> str:
    """One line per invalid value: its dotted key, the layer it came from, and pydantic's reason."""
    lines = []
    for problem in err.errors():
        dotted = ".".join(str(part) for part in problem["loc"])
        source = DEFAULT
        for layer in layers:
            flat = _leaves(layer.values)
            if any(k == dotted or k.startswith(f"{dotted}.") or dotted.startswith(f"{k}.") for k in flat):
                source = layer.origin(next(k for k in flat if k == dotted or k.startswith(f"{dotted}.") or dotted.startswith(f"{k}.")))
        given = f" = {problem['input']!r}" if not isinstance(problem.get("input"), dict) else ""
        lines.append(f"setting {dotted}{given} from {source}: {problem['msg']}")
    return "\n".join(lines)


def resolve(home: Path | None = None, config_file: Path | None = None, sets: Sequence[str] = (),
            environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Resolved:
    """The settings of one run from every layer, checked; raises SettingsError naming the key and its source."""
    environ = os.environ if environ is None else environ
    controls = read_controls(environ)
    path = project_file(config_file, controls, cwd or Path.cwd())
    file = file_layer(path) if path else None
    home_path, home_origin = _home(home, controls, file, path)
    if file is not None:
        file = Layer(file.name, {k: v for k, v in file.values.items() if k != "home"})
    layers = [layer for layer in (file, env_layer(environ), set_layer(sets)) if layer is not None]
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {"paths.home": home_origin}
    for layer in layers:
        check_keys(layer.values, Settings, layer)
        merged = merge(merged, layer.values)
        origins.update({k: layer.origin(k) for k in _leaves(layer.values)})
    try:
        settings = Settings.model_validate({**merged, "paths": Paths(home=home_path)})
    except ValidationError as err:
        raise SettingsError(_explain(err, layers)) from None
    return Resolved(settings, origins, path)


def _toml_value(value: Any) -> str:
    """One value as a TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        # TOML has no null: an unset (None) member of a table is left out, which reads back as its default.
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted one."""
    return key if key.replace("_", "").replace("-", "").isalnum() else f'"{key}"'


def _table_lines(model: BaseModel, table: str, out: list[str]) -> None:
    """`[table]` with every key commented out at its default, nested sections as their own tables."""
    cls = type(model)
    out += ["", f"# {(cls.__doc__ or '').strip().splitlines()[0]}", f"[{table}]"]
    nested: list[tuple[str, BaseModel]] = []
    for name, info in cls.model_fields.items():
        key = info.alias or name
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            nested.append((f"{table}.{key}", value))
            continue
        if info.description:
            out.append(f"# {info.description}")
        dumped = TypeAdapter(info.annotation).dump_python(value)
        if value is None:
            out.append(f"# {key}: unset by default (give it a value to set it)")
        else:
            out.append(f"# {_toml_key(key)} = {_toml_value(dumped)}")
    for nested_table, section in nested:
        _table_lines(section, nested_table, out)


def init_text(settings: Settings) -> str:
    """A commented `leadgraph.toml`: every section and key at its default, ready to uncomment and change."""
    out = [
        "# leadgraph settings. Later layers win: these defaults, this file, environment variables",
        "# LEADGRAPH_<SECTION>__<KEY>, then --set section.key=value on the command line.",
        "# Uncomment a key to change it. `leadgraph config show` prints the resolved values and their sources.",
        "",
        "# The home folder (relative to this file); --home and LEADGRAPH_HOME take precedence.",
        '# home = "var"',
    ]
    for name, info in type(settings).model_fields.items():
        if name == "paths":
            continue
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            _table_lines(value, info.alias or name, out)
        else:
            _keyed_lines(info.alias or name, typing.get_args(info.annotation)[1], out)
    return "\n".join(out) + "\n"


def _keyed_lines(table: str, item: type[BaseModel], out: list[str]) -> None:
    """A table of named sections (e.g. [sources.<table>]): one commented example with every key at its default."""
    out += ["", f"# {(item.__doc__ or '').strip().splitlines()[0]} One [{table}.<name>] table each, keys at their defaults:"]
    example = item()
    out.append(f"#   [{table}.<name>]")
    for name, info in type(example).model_fields.items():
        value = getattr(example, name)
        out.append(f"#   {_toml_key(info.alias or name)} = {_toml_value(value)}" if value is not None else f"#   {name}: unset by default")


def show_lines(resolved: Resolved) -> list[tuple[str, str, str]]:
    """(key, value, source) for every resolved setting, in declaration order."""
    dumped = resolved.settings.model_dump(by_alias=True, mode="json", exclude={"paths"})
    rows = [("home", str(resolved.settings.paths.home), resolved.origin("paths.home"))]
    rows += [(key, _toml_value(value), resolved.origin(key)) for key, value in _leaves(dumped).items()]
    return rows


def child_environment(resolved: Resolved, sets: Sequence[str]) -> dict[str, str]:
    """Variables that make a child process (a served flow run) resolve the same settings as this command."""
    env = {"LEADGRAPH_HOME": str(resolved.settings.paths.home)}
    if resolved.config_file is not None:
        env["LEADGRAPH_CONFIG"] = str(resolved.config_file)
    for item in sets:
        dotted, _, raw = item.partition("=")
        env[ENV_PREFIX + dotted.strip().upper().replace(".", "__")] = raw.strip()
    return env
