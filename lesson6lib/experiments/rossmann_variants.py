"""Variants of the Rossmann entity-embedding model side by side, as the ``inside-the-model``
page runs them and the command line repeats them (``EXPERIMENTS``): :func:`train_variants`.

Every variant is trained on the same split (that of the base preset, its sample drawn with the
base preset's seed) by :func:`~lesson6lib.experiments.rossmann.train_rossmann`, once per seed:
the model is built right after seeding with that seed, and the run seeds again before training.
The variants:

- ``library``: :class:`~lesson6lib.entity.EntityEmbeddingModel` as the ``rossmann`` experiment
  builds it;
- ``fastai1-widths``: the same with fastai 1.x's embedding widths
  (:func:`~lesson6lib.entity.fastai1_embedding_sizes`);
- ``bn-before-relu``: the same with batch norm between each hidden layer's linear map and its
  ReLU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd
import torch

from lesson6lib import rossmann_features
from lesson6lib.checks import check_int
from lesson6lib.entity import EntityEmbeddingModel, fastai1_embedding_sizes
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.experiments.rossmann import EXPERIMENTS as ROSSMANN
from lesson6lib.experiments.rossmann import (
    RossmannPreset,
    RossmannSplit,
    model_settings,
    split_frame,
    train_rossmann,
)
from lesson6lib.runtime import seed_everything

__all__ = [
    "EXPERIMENTS",
    "VARIANTS",
    "Variant",
    "VariantsPreset",
    "VariantsResult",
    "train_variants",
    "variant_model",
]

Variant = Literal["library", "fastai1-widths", "bn-before-relu"]
"""The name of a variant (see the module's docstring)."""
VARIANTS: tuple[Variant, ...] = ("library", "fastai1-widths", "bn-before-relu")
"""Every variant, in the order a table lists them."""


@dataclass(frozen=True)
class VariantsPreset(Preset):
    """Each of ``variants`` trained once per seed in ``seeds``, per the ``base`` preset (whose
    own ``seed`` draws the training sample shared by every run)."""

    base: RossmannPreset = RossmannPreset(sample=0.25, epochs=2)
    variants: tuple[Variant, ...] = VARIANTS
    seeds: tuple[int, ...] = (42, 1, 2)

    def check(self) -> None:
        for name in ("variants", "seeds"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{self._field(name)} needs at least one value")
            if len(set(values)) != len(values):
                raise ValueError(f"{self._field(name)} repeats a value: {values}")
        for i, seed in enumerate(self.seeds):
            check_int(f"{self._field('seeds')}[{i}]", seed, low=0)
            if seed >= 2**32:
                raise ValueError(f"{self._field('seeds')}[{i}] must be < 2**32, got {seed}")


@dataclass(kw_only=True)
class VariantsResult(RunResult):
    """A :func:`train_variants` run. ``scores`` has one row per variant and seed (columns
    ``variant``, ``seed``, ``parameters``, ``valid_rmspe``, ``seconds``); ``value`` is the mean
    validation RMSPE of ``headline`` (``library`` where it ran, else the first variant);
    ``history`` has every run's epochs, with its variant and seed."""

    scores: pd.DataFrame = field(repr=False)
    headline: str

    def spread(self) -> pd.DataFrame:
        """Validation RMSPE per variant over the seeds: mean, lowest and highest."""
        by = self.scores.groupby("variant", sort=False)["valid_rmspe"]
        return pd.DataFrame({"mean": by.mean(), "low": by.min(), "high": by.max()})

    def tables(self) -> dict[str, pd.DataFrame]:
        """The runs, then the spread per variant (what the command line prints)."""
        return {"runs": self.scores, "validation RMSPE over the seeds": self.spread()}


def variant_model(
    variant: Variant, preset: RossmannPreset, split: RossmannSplit
) -> EntityEmbeddingModel:
    """The model of ``variant`` (see the module's docstring) for ``preset`` on ``split``,
    initialised from torch's global generator as it stands: the caller seeds."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    settings = model_settings(preset, split)
    if variant == "fastai1-widths":
        sizes = fastai1_embedding_sizes(settings["cardinalities"])
        return EntityEmbeddingModel(
            **settings, emb_sizes=[w for _, w in sizes], batchnorm=preset.batchnorm
        )
    if variant == "bn-before-relu":
        return EntityEmbeddingModel(**settings, batchnorm=True, bn_before_relu=True)
    return EntityEmbeddingModel(**settings, batchnorm=preset.batchnorm)


def train_variants(
    preset: VariantsPreset,
    device: str | torch.device | None = None,
    progress: bool = False,
    *,
    frame: pd.DataFrame | None = None,
) -> VariantsResult:
    """Train every variant of ``preset`` once per seed on one split of ``frame`` (by default
    the cached Rossmann frame) and score each on the validation window. The
    ``rossmann-variants`` experiment."""
    if not isinstance(preset, VariantsPreset):
        raise TypeError(f"preset must be a VariantsPreset, got {type(preset).__name__}")
    split = split_frame(rossmann_features.load_frame() if frame is None else frame, preset.base)
    rows, histories, start = [], [], time.perf_counter()
    for variant in preset.variants:
        for seed in preset.seeds:
            seed_everything(seed)
            run_preset = replace(preset.base, seed=seed)
            model = variant_model(variant, run_preset, split)
            run = train_rossmann(
                run_preset, device=device, progress=progress, model=model, split=split
            )
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "valid_rmspe": run.valid_rmspe,
                    "seconds": run.seconds,
                }
            )
            histories.append(run.history.reset_index().assign(variant=variant, seed=seed))
    scores = pd.DataFrame(rows)
    headline = "library" if "library" in preset.variants else preset.variants[0]
    return VariantsResult(
        metric="mean_valid_rmspe",
        value=float(scores.loc[scores["variant"] == headline, "valid_rmspe"].mean()),
        seconds=time.perf_counter() - start,
        history=pd.concat(histories, ignore_index=True),
        scores=scores,
        headline=headline,
    )


EXPERIMENTS = (
    Experiment(
        name="rossmann-variants",
        page="inside-the-model",
        summary="the Rossmann model, fastai 1.x widths and batch norm before ReLU, on several "
        "seeds: validation RMSPE per variant and seed",
        presets={
            "cpu": VariantsPreset(),
            "full": VariantsPreset(base=ROSSMANN[0].preset("full")),
        },
        run=train_variants,
    ),
)
"""The ``rossmann-variants`` experiment, as the command line and the registry list it."""
