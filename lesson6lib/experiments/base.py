"""What every experiment shares: a preset that checks itself, a typed result, and the
registration record the command line and the pages read.

- :class:`Preset`: a frozen dataclass of one run's settings. Building one checks every field
  against its type hint (``Literal`` choices, ints, finite floats, tuples, optional values) and
  then the preset's own rules (:meth:`Preset.check`), so a typo fails at construction with a
  message naming the field, the allowed values and what arrived, never mid-training.
- :class:`RunResult`: what a run returns: the metric's name and value, the wall time, the
  per-epoch history and the learner; topic modules extend it with typed fields of their own.
- :class:`Experiment`: a name, its presets (``"cpu"`` for the site build, ``"full"`` for the
  lesson's size) and the function that runs one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import pandas as pd
import torch

from lesson6lib.checks import check_int, check_number

__all__ = ["Experiment", "Preset", "RunResult"]


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the type hint ``hint`` (the subset presets use)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args, strict=True)
        )
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


@dataclass(frozen=True)
class Preset:
    """Base of every preset: checked when built (see the module's docstring)."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, hint = getattr(self, f.name), hints[f.name]
            if not _matches(value, hint):
                if typing.get_origin(hint) is Literal:
                    allowed = ", ".join(repr(a) for a in typing.get_args(hint))
                    expected = f"one of {allowed}"
                else:
                    expected = f"of type {_describe(hint)}"
                raise ValueError(
                    f"{self._field(f.name)} must be {expected}; got {value!r}"
                    f" ({type(value).__name__})"
                )
            if isinstance(value, float):
                check_number(self._field(f.name), value)  # no NaN or infinity
        self.check()

    def _field(self, name: str) -> str:
        return f"{type(self).__name__}.{name}"

    def check(self) -> None:
        """The preset's own rules beyond its types (ranges, combinations); override."""

    def positive(self, *names: str) -> None:
        """Check that each named int field is >= 1 and each float field is > 0."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, int):
                check_int(self._field(name), value)
            else:
                check_number(self._field(name), value, 0.0, low_open=True)

    def fraction(self, name: str, high_open: bool = True) -> None:
        """Check that the named field is in (0, 1), or (0, 1] with ``high_open=False``."""
        check_number(
            self._field(name), getattr(self, name), 0.0, 1.0, low_open=True, high_open=high_open
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-able values (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def digest(self) -> str:
        """A short hash of the class name and every setting: equal presets, equal digests."""
        text = json.dumps([type(self).__name__, self.as_dict()], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class RunResult:
    """What a run returns: ``metric`` names the headline number and ``value`` holds it;
    ``seconds`` is the wall time of the training (or of the whole run where there is none);
    ``history`` has one row per epoch; ``learner`` is the trained learner, where there is one."""

    metric: str
    value: float
    seconds: float
    history: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    learner: Any = field(default=None, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The frames worth printing after a run, by title (the history, where there is one)."""
        return {"history": self.history} if len(self.history) else {}

    def summary(self) -> dict[str, Any]:
        """Every field that is a plain number, string or bool (for printing and JSON)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool | int | float | str):
                out[f.name] = value
        return out


Runner = Callable[..., RunResult]


@dataclass(frozen=True)
class Experiment:
    """One experiment of a page: ``run(preset, device=..., progress=...)`` returns a
    :class:`RunResult`; ``presets`` maps a preset's name to its settings."""

    name: str
    page: str
    summary: str
    presets: Mapping[str, Preset]
    run: Runner

    def __post_init__(self) -> None:
        if "cpu" not in self.presets:
            raise ValueError(f"experiment {self.name!r} needs a 'cpu' preset")

    def preset(self, name: str) -> Preset:
        """The preset called ``name``; a clear error names the ones there are."""
        if name not in self.presets:
            raise ValueError(
                f"experiment {self.name!r} has presets {', '.join(self.presets)}; got {name!r}"
            )
        return self.presets[name]

    def __call__(
        self,
        preset: str | Preset = "cpu",
        device: str | torch.device | None = None,
        progress: bool = False,
    ) -> RunResult:
        chosen = self.preset(preset) if isinstance(preset, str) else preset
        return self.run(chosen, device=device, progress=progress)
