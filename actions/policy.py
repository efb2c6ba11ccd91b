"""The receiver's policy file: which steps each `gpuguard_action` runs, what is protected, the limits.

The schema is the receiver's (docs/contracts.md); the shipped `policy.yml` is rendered from
`config.libsonnet` so its thresholds are the rules'. Validation happens once, at start, and every
problem is reported as one line naming the offending path, so an operator never meets a traceback.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION_LABELS = ("fan_boost", "power_cap", "kill_workloads")
STEP_KINDS = ("fan_boost", "power_cap", "kill_workloads")


class PolicyError(ValueError):
    """The policy file is missing, unreadable or invalid; the message is one line for the operator."""


@dataclass(frozen=True)
class PowerSetting:
    """A power limit as absolute watts or as a fraction of the GPU's default limit."""

    watts: float | None = None
    fraction_of_default: float | None = None

    def describe(self) -> str:
        if self.watts is not None:
            return f"{self.watts:g} W"
        return f"{self.fraction_of_default:g} of default"


@dataclass(frozen=True)
class Step:
    action: str  # one of STEP_KINDS
    speed_percent: float | str | None = None  # a number or "max" (fan_boost)
    no_fans: str = "power_cap"  # fan_boost on a fanless GPU: "power_cap" or "none"
    power: PowerSetting | None = None  # power_cap
    grace_seconds: float = 5.0  # kill_workloads


@dataclass(frozen=True)
class Thresholds:
    warning_celsius: float
    critical_celsius: float


# Where a board's limits came from, in the order they are tried (the rules' `limit_source` label).
LIMIT_SOURCES = ("model", "margin", "slowdown", "max_operating", "default")
# What the policy does about one GPU's temperature, mildest first (the shared test table's words:
# tests/rules/limits_table.yml). `cap` is the predictive tier, which needs a trajectory, not a level.
DECISIONS = ("nothing", "warn", "cap", "kill")


@dataclass(frozen=True)
class BoardLimits:
    """The warning and critical limits that apply to one GPU now, and where they came from."""

    warning_celsius: float
    critical_celsius: float
    source: str  # one of LIMIT_SOURCES

    def decide(self, celsius: float) -> str:
        """The level-based decision for a temperature: `kill`, `warn` or `nothing` (never `cap`)."""
        if celsius >= self.critical_celsius:
            return "kill"
        if celsius >= self.warning_celsius:
            return "warn"
        return "nothing"


@dataclass(frozen=True)
class TemperatureLimits:
    """Per-board limits, rendered from config.libsonnet's `temperatureLimits` (the rules' source too).

    The first that applies wins: a named model's absolute limits; else the board's thermal margin
    (NVML margin temperature) at or below `margin`; else the lower of its slowdown and maximum
    operating temperatures minus `board_threshold_below`; else `default`. `margin` and
    `board_threshold_below` are None in a policy file that predates them (then only models and the
    default apply, as before).
    """

    models: dict[str, Thresholds]
    default: Thresholds
    margin: Thresholds | None = None  # margins in °C: warning >= critical
    board_threshold_below: Thresholds | None = None  # degrees below the threshold: warning >= critical

    def for_board(self, model: str, celsius: float, margin: float | None = None,
                  slowdown: float | None = None, max_operating: float | None = None) -> BoardLimits:
        """The limits for a GPU of `model` reading `celsius`, with what the board reports (None: not
        reported). Sentinels are not values: a margin of 200 °C or more, a threshold of 0 or less or
        of 200 °C or more count as not reported, as in the rules."""
        named = self.models.get(model)
        if named is not None:
            return BoardLimits(named.warning_celsius, named.critical_celsius, "model")
        if self.margin is not None and _reported(margin, low=-math.inf):
            # The limit is where the margin would be that small: the board's threshold minus it.
            at = celsius + margin
            return BoardLimits(at - self.margin.warning_celsius, at - self.margin.critical_celsius, "margin")
        if self.board_threshold_below is not None:
            below = self.board_threshold_below
            reported = ((slowdown, "slowdown"), (max_operating, "max_operating"))
            found = [(value, name) for value, name in reported if _reported(value, low=0)]
            if found:
                # The lower wins; on a tie the slowdown temperature names it (as the rules do).
                value, name = min(found, key=lambda pair: pair[0])
                return BoardLimits(value - below.warning_celsius, value - below.critical_celsius, name)
        return BoardLimits(self.default.warning_celsius, self.default.critical_celsius, "default")


def _reported(value: float | None, low: float) -> bool:
    return value is not None and math.isfinite(value) and low < value < 200


@dataclass(frozen=True)
class Policy:
    host_label: str
    lease_seconds: float
    heartbeat_alertname: str
    heartbeat_timeout_seconds: float
    poll_interval_seconds: float
    thresholds: Thresholds
    model_thresholds: dict[str, Thresholds]
    actions: dict[str, tuple[Step, ...]]
    fallback_power_cap: PowerSetting
    protected_executables: frozenset[str]
    protected_names: frozenset[str]  # deprecated `process_names`: executable file names
    protected_users: frozenset[str]
    protected_cgroups: tuple[str, ...]
    kills_per_minute: int
    failsafe_grace_seconds: float = 5.0
    # Per-board limits; from `temperature_limits` when the file has it, else from the failsafe's
    # default and models (what `thresholds` and `model_thresholds` hold).
    temperature_limits: TemperatureLimits | None = None
    source: str = field(default="", compare=False)

    def thresholds_for(self, model: str) -> Thresholds:
        return self.model_thresholds.get(model, self.thresholds)

    def limits(self) -> TemperatureLimits:
        """The per-board limits (never None, whichever keys the file used)."""
        if self.temperature_limits is not None:
            return self.temperature_limits
        return TemperatureLimits(models=dict(self.model_thresholds), default=self.thresholds)


class _Reader:
    """Walks the parsed YAML, turning each type or range problem into a PolicyError with its path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> PolicyError:
        return PolicyError(f"{self.source}: {path}: {message}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be strings, got {key!r}")
        return value

    def only(self, value: dict[str, Any], path: str, allowed: set[str]) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(f"{path}.{unknown[0]}" if path else unknown[0],
                            f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def required(self, value: dict[str, Any], key: str, path: str) -> Any:
        if key not in value:
            raise self.fail(f"{path}.{key}" if path else key, "is required")
        return value[key]

    def number(self, value: Any, path: str, minimum: float = 0.0, exclusive: bool = False,
               maximum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(path, f"must be a number, got {_kind(value)}")
        low_ok = value > minimum if exclusive else value >= minimum
        if not low_ok or (maximum is not None and value > maximum):
            bound = f"> {minimum:g}" if exclusive else f">= {minimum:g}"
            if maximum is not None:
                bound += f" and <= {maximum:g}"
            raise self.fail(path, f"must be {bound}, got {value!r}")
        return float(value)

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"must be a non-empty string, got {_kind(value)}")
        return value

    def strings(self, value: Any, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list of strings, got {_kind(value)}")
        return [self.string(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def power(self, value: Any, path: str, extra: frozenset[str] = frozenset()) -> PowerSetting:
        value = self.mapping(value, path)
        self.only(value, path, {"watts", "fraction_of_default", *extra})
        has_watts, has_fraction = "watts" in value, "fraction_of_default" in value
        if has_watts == has_fraction:
            raise self.fail(path, "needs exactly one of watts or fraction_of_default")
        if has_watts:
            return PowerSetting(watts=self.number(value["watts"], f"{path}.watts", 0, exclusive=True))
        return PowerSetting(fraction_of_default=self.number(
            value["fraction_of_default"], f"{path}.fraction_of_default", 0, exclusive=True, maximum=1.0))

    def thresholds(self, value: dict[str, Any], path: str) -> Thresholds:
        warning = self.number(self.required(value, "warning_celsius", path), f"{path}.warning_celsius",
                              maximum=200)
        critical = self.number(self.required(value, "critical_celsius", path), f"{path}.critical_celsius",
                               maximum=200)
        if critical < warning:
            raise self.fail(path, f"critical_celsius ({critical:g}) is below warning_celsius ({warning:g})")
        return Thresholds(warning, critical)

    def below(self, value: Any, path: str, warning_key: str, critical_key: str) -> Thresholds:
        """A pair of distances (margins, degrees below a threshold): the warning one is the larger."""
        value = self.mapping(value, path)
        self.only(value, path, {warning_key, critical_key})
        warning = self.number(self.required(value, warning_key, path), f"{path}.{warning_key}",
                              maximum=100)
        critical = self.number(self.required(value, critical_key, path), f"{path}.{critical_key}",
                               maximum=100)
        if warning < critical:
            raise self.fail(path, f"{warning_key} ({warning:g}) is below {critical_key} ({critical:g}): "
                            "the warning tier must act at the larger distance")
        return Thresholds(warning, critical)

    def temperature_limits(self, value: Any, path: str) -> TemperatureLimits:
        value = self.mapping(value, path)
        self.only(value, path, {"models", "margin", "board_threshold", "default"})
        models: dict[str, Thresholds] = {}
        for model, limits in self.mapping(value.get("models") or {}, f"{path}.models").items():
            where = f"{path}.models.{model}"
            limits = self.mapping(limits, where)
            self.only(limits, where, {"warning_celsius", "critical_celsius"})
            models[model] = self.thresholds(limits, where)
        default = self.mapping(self.required(value, "default", path), f"{path}.default")
        self.only(default, f"{path}.default", {"warning_celsius", "critical_celsius"})
        return TemperatureLimits(
            models=models,
            default=self.thresholds(default, f"{path}.default"),
            margin=self.below(self.required(value, "margin", path), f"{path}.margin",
                              "warning_celsius", "critical_celsius"),
            board_threshold_below=self.below(
                self.required(value, "board_threshold", path), f"{path}.board_threshold",
                "warning_below_celsius", "critical_below_celsius"),
        )

    def step(self, value: Any, path: str) -> Step:
        value = self.mapping(value, path)
        kind = self.required(value, "action", path)
        if kind not in STEP_KINDS:
            raise self.fail(f"{path}.action", f"must be one of {', '.join(STEP_KINDS)}, got {kind!r}")
        if kind == "fan_boost":
            self.only(value, path, {"action", "speed_percent", "no_fans"})
            speed = value.get("speed_percent", "max")
            if speed != "max":
                speed = self.number(speed, f"{path}.speed_percent", maximum=100)
            no_fans = value.get("no_fans", "power_cap")
            if no_fans not in ("power_cap", "none"):
                raise self.fail(f"{path}.no_fans", f"must be power_cap or none, got {no_fans!r}")
            return Step(action=kind, speed_percent=speed, no_fans=no_fans)
        if kind == "power_cap":
            return Step(action=kind, power=self.power(value, path, frozenset({"action"})))
        self.only(value, path, {"action", "grace_seconds"})
        grace = self.number(value.get("grace_seconds", 5), f"{path}.grace_seconds", maximum=3600)
        return Step(action=kind, grace_seconds=grace)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    return type(value).__name__


TOP_KEYS = {"version", "host_label", "lease_seconds", "heartbeat", "failsafe", "temperature_limits",
            "actions", "fallback_power_cap", "protected", "limits"}


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """Validate parsed YAML and build a Policy; raises PolicyError naming the first problem."""
    r = _Reader(source)
    top = r.mapping(data, "(top level)")
    r.only(top, "", TOP_KEYS)
    version = r.required(top, "version", "")
    if version != 1:
        raise r.fail("version", f"must be 1, got {version!r}")
    host_label = r.string(top.get("host_label", "Hostname"), "host_label")
    lease = r.number(r.required(top, "lease_seconds", ""), "lease_seconds", 0, exclusive=True)

    heartbeat = r.mapping(r.required(top, "heartbeat", ""), "heartbeat")
    r.only(heartbeat, "heartbeat", {"alertname", "timeout_seconds"})
    alertname = r.string(heartbeat.get("alertname", "Watchdog"), "heartbeat.alertname")
    timeout = r.number(r.required(heartbeat, "timeout_seconds", "heartbeat"), "heartbeat.timeout_seconds",
                       0, exclusive=True)

    failsafe = r.mapping(r.required(top, "failsafe", ""), "failsafe")
    r.only(failsafe, "failsafe", {"poll_interval_seconds", "warning_celsius", "critical_celsius", "models",
                                  "grace_seconds"})
    poll = r.number(failsafe.get("poll_interval_seconds", 0.5), "failsafe.poll_interval_seconds", 0,
                    exclusive=True, maximum=1.0)
    thresholds = r.thresholds(failsafe, "failsafe")
    models: dict[str, Thresholds] = {}
    for model, value in r.mapping(failsafe.get("models") or {}, "failsafe.models").items():
        path = f"failsafe.models.{model}"
        value = r.mapping(value, path)
        r.only(value, path, {"warning_celsius", "critical_celsius"})
        merged = {"warning_celsius": thresholds.warning_celsius,
                  "critical_celsius": thresholds.critical_celsius, **value}
        models[model] = r.thresholds(merged, path)
    failsafe_grace = r.number(failsafe.get("grace_seconds", 5), "failsafe.grace_seconds", maximum=3600)
    limits_table = (r.temperature_limits(top["temperature_limits"], "temperature_limits")
                    if top.get("temperature_limits") is not None else None)

    actions: dict[str, tuple[Step, ...]] = {}
    for label, steps in r.mapping(r.required(top, "actions", ""), "actions").items():
        if label not in ACTION_LABELS:
            raise r.fail(f"actions.{label}", f"unknown gpuguard_action (known: {', '.join(ACTION_LABELS)})")
        if not isinstance(steps, list) or not steps:
            raise r.fail(f"actions.{label}", f"must be a non-empty list of steps, got {_kind(steps)}")
        actions[label] = tuple(r.step(step, f"actions.{label}[{i}]") for i, step in enumerate(steps))

    fallback = r.power(top.get("fallback_power_cap", {"fraction_of_default": 0.7}), "fallback_power_cap")

    protected = r.mapping(top.get("protected") or {}, "protected")
    r.only(protected, "protected", {"executables", "process_names", "users", "cgroups"})
    executables = r.strings(protected.get("executables"), "protected.executables")
    for path in executables:
        if not path.startswith("/") or path != os.path.normpath(path):
            raise r.fail("protected.executables", f"{path!r} is not an absolute, normalised path "
                         "(protection matches /proc/PID/exe, which a user cannot set)")
    limits = r.mapping(top.get("limits") or {}, "limits")
    r.only(limits, "limits", {"kills_per_minute"})
    kills = limits.get("kills_per_minute", 20)
    if isinstance(kills, bool) or not isinstance(kills, int) or kills < 0:
        raise r.fail("limits.kills_per_minute", f"must be a whole number >= 0, got {_kind(kills)}")

    users = [str(u) for u in (protected.get("users") or [])]
    return Policy(
        host_label=host_label,
        lease_seconds=lease,
        heartbeat_alertname=alertname,
        heartbeat_timeout_seconds=timeout,
        poll_interval_seconds=poll,
        thresholds=thresholds,
        model_thresholds=models,
        actions=actions,
        fallback_power_cap=fallback,
        protected_executables=frozenset(executables),
        protected_names=frozenset(r.strings(protected.get("process_names"), "protected.process_names")),
        protected_users=frozenset(r.strings(users, "protected.users")),
        protected_cgroups=tuple(r.strings(protected.get("cgroups"), "protected.cgroups")),
        kills_per_minute=kills,
        failsafe_grace_seconds=failsafe_grace,
        temperature_limits=limits_table,
        source=source,
    )


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; every failure is a one-line PolicyError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"cannot read policy file {path}: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise PolicyError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_policy(data, str(path))


def default_policy_path() -> Path:
    """The packaged policy, rendered from config.libsonnet."""
    return Path(__file__).with_name("policy.yml")
