"""The Rossmann runs of the pages, as functions of a preset: the split by a date window, the
entity-embedding model trained on log sales, the Kaggle submission, and the closures analysis.

The model learns log(Sales) with a mean squared error, so exp of its output is a prediction of
the sales themselves; Kaggle scores the root mean square percentage error (RMSPE), which on small
errors is close to the RMSE of log sales.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lesson6lib import optim, rossmann_pipeline, schedules
from lesson6lib.batches import TensorBatches
from lesson6lib.entity import EntityEmbeddingModel
from lesson6lib.learner import Learner, root_mean
from lesson6lib.runtime import seed_everything
from lesson6lib.tabular import (
    CategoryEncoder,
    ContinuousScaler,
    day_keys,
    require_columns,
    rmspe,
)

__all__ = [
    "VALID_WINDOW",
    "RossmannPreset",
    "RossmannSplit",
    "around_closures",
    "check_submission",
    "exp_rmspe",
    "closure_runs",
    "in_window",
    "rossmann_learner",
    "split_frame",
    "submission",
    "train_rossmann",
]

VALID_WINDOW = (pd.Timestamp("2014-08-01"), pd.Timestamp("2014-09-17"))
"""The validation days: as many (48) as the test period, 2015-08-01 to 2015-09-17, one year
earlier, so that the summer holidays fall in both."""


@dataclass(frozen=True)
class RossmannPreset:
    """One training run of the entity-embedding model on the Rossmann frame."""

    hidden: tuple[int, ...] = (200, 100)
    dropouts: tuple[float, ...] = (0.001, 0.01)
    emb_dropout: float = 0.04
    batchnorm: bool = False
    closure_features: bool = True  # False: the lesson's 22 categorical columns only
    sample: float = 1.0  # the share of the training rows used
    batch_size: int = 512
    epochs: int = 3
    lr: float = 1e-2  # the peak of a 1cycle schedule, with Adam
    weight_decay: float = 0.0
    seed: int = 42


@dataclass
class RossmannSplit:
    """Training, validation and test rows, with the encoders fitted on the training rows."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    encoder: CategoryEncoder
    scaler: ContinuousScaler
    _tensors: dict = field(default_factory=dict, repr=False)

    def tensors(self, part: str) -> tuple[Tensor, Tensor, Tensor]:
        """Codes (rows, categorical), scaled continuous inputs (rows, continuous) and log sales
        (zeros for the test rows, which have no sales) of ``part``: train, valid or test.
        Computed once per part."""
        if part not in ("train", "valid", "test"):
            raise ValueError(f"part must be 'train', 'valid' or 'test', got {part!r}")
        if part not in self._tensors:
            rows = getattr(self, part)
            sales = rows["Sales"].fillna(1.0).to_numpy(dtype=np.float64)
            self._tensors[part] = (
                torch.from_numpy(self.encoder.transform(rows)),
                torch.from_numpy(self.scaler.transform(rows)),
                torch.from_numpy(np.log(sales).astype(np.float32)),
            )
        return self._tensors[part]

    def loader(self, part: str, batch_size: int, shuffle: bool = False, seed: int = 0):
        """Batches (codes, continuous, log sales) of ``part``."""
        return TensorBatches(*self.tensors(part), batch_size=batch_size, shuffle=shuffle, seed=seed)


@root_mean
def exp_rmspe(pred: Tensor, target: Tensor) -> Tensor:
    """RMSPE of the sales when ``pred`` and ``target`` are log sales:
    sqrt(mean(((e^t - e^p) / e^t)^2)) = sqrt(mean((1 - e^(p - t))^2))."""
    return torch.sqrt(torch.mean((1 - torch.exp(pred - target)) ** 2))


def in_window(dates: pd.Series, window: tuple[pd.Timestamp, pd.Timestamp] = VALID_WINDOW):
    """True for the dates inside ``window`` (both ends included)."""
    dates = pd.to_datetime(dates)
    return (dates >= window[0]) & (dates <= window[1])


def split_frame(frame: pd.DataFrame, preset: RossmannPreset = RossmannPreset()) -> RossmannSplit:
    """Validation = the training days in :data:`VALID_WINDOW`; training = the other training
    days (a ``preset.sample`` share of them, drawn with ``preset.seed``); test = the test rows.
    Only days with sales > 0 are kept for training and validation: closed days sell nothing and
    Kaggle's metric skips them. The features were computed before this, on every day."""
    require_columns(frame, ["is_test", "Open", "Sales", "Date"], "split_frame")
    if not 0 < preset.sample <= 1:
        raise ValueError(f"sample must be in (0, 1], got {preset.sample}")
    sold = ~frame["is_test"] & (frame["Open"] == 1) & (frame["Sales"] > 0)
    window = in_window(frame["Date"])
    train = frame[sold & ~window]
    if preset.sample < 1:
        train = train.sample(frac=preset.sample, random_state=preset.seed).sort_index()
    categorical = list(rossmann_pipeline.CATEGORICAL)
    if not preset.closure_features:
        categorical = list(rossmann_pipeline.LESSON_CATEGORICAL)
    return RossmannSplit(
        train=train,
        valid=frame[sold & window],
        test=frame[frame["is_test"]],
        encoder=CategoryEncoder(categorical).fit(train),
        scaler=ContinuousScaler(rossmann_pipeline.CONTINUOUS).fit(train),
    )


def rossmann_learner(
    preset: RossmannPreset,
    split: RossmannSplit,
    device: str | torch.device | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
) -> Learner:
    """A Learner with MSE on log sales, the metric :func:`exp_rmspe`, and Adam (L2
    ``weight_decay``), on ``model`` or a new :class:`EntityEmbeddingModel` per ``preset`` with a
    y_range of (0, 1.2 max log sales)."""
    seed_everything(preset.seed)
    _, _, y = split.tensors("train")
    if model is None:
        model = EntityEmbeddingModel(
            split.encoder.cardinalities,
            len(split.scaler.columns),
            hidden=preset.hidden,
            dropouts=preset.dropouts,
            emb_dropout=preset.emb_dropout,
            y_range=(0.0, 1.2 * float(y.max())),
            batchnorm=preset.batchnorm,
        )
    opt = optim.Adam(model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay)
    return Learner(
        model,
        split.loader("train", preset.batch_size, shuffle=True, seed=preset.seed),
        nn.functional.mse_loss,
        opt,
        valid_dl=split.loader("valid", 4096),
        metrics=[exp_rmspe],
        device=device,
        progress=progress,
    )


def predict_sales(learn: Learner, split: RossmannSplit, part: str) -> np.ndarray:
    """exp of the model's log-sales output for every row of ``part``."""
    return np.exp(learn.predict(split.loader(part, 4096)).numpy().astype(np.float64))


def train_rossmann(
    preset: RossmannPreset,
    frame: pd.DataFrame | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
    split: RossmannSplit | None = None,
) -> dict:
    """Train per ``preset`` with a 1cycle schedule; return the learner, the split, the history,
    the validation RMSPE and predictions, and the training wall time."""
    if split is None:
        split = split_frame(rossmann_pipeline.load_frame() if frame is None else frame, preset)
    learn = rossmann_learner(preset, split, device, progress, model)
    total = preset.epochs * len(learn.train_dl)
    start = time.perf_counter()
    history = learn.fit(
        preset.epochs, scheduler=schedules.OneCycle(learn.optimizer, preset.lr, total)
    )
    seconds = time.perf_counter() - start
    pred = predict_sales(learn, split, "valid")
    return {
        "learner": learn,
        "split": split,
        "history": history,
        "valid_rmspe": rmspe(split.valid["Sales"], pred),
        "valid_pred": pred,
        "seconds": seconds,
    }


def submission(learn: Learner, split: RossmannSplit) -> pd.DataFrame:
    """Kaggle's format, one row per test row: ``Id`` and predicted ``Sales``, 0 where the store
    is closed (``Open == 0``); a missing ``Open`` is predicted as open."""
    sales = predict_sales(learn, split, "test")
    sales[split.test["Open"].to_numpy() == 0] = 0.0
    out = pd.DataFrame({"Id": split.test["Id"].astype("int64").to_numpy(), "Sales": sales})
    return out.sort_values("Id", ignore_index=True)


def check_submission(sub: pd.DataFrame, test: pd.DataFrame) -> None:
    """Raise a ValueError naming the first problem: columns other than Id, Sales; Ids not
    exactly the test set's, or repeated; Sales missing, negative or infinite; or Sales > 0 on a
    row where the store is closed."""
    if list(sub.columns) != ["Id", "Sales"]:
        raise ValueError(f"a submission has the columns ['Id', 'Sales'], got {list(sub.columns)}")
    if sub["Id"].duplicated().any():
        raise ValueError(f"{int(sub['Id'].duplicated().sum())} Ids appear more than once")
    if set(sub["Id"]) != set(test["Id"].astype("int64")):
        raise ValueError("the Ids differ from the test set's")
    sales = sub["Sales"].to_numpy(dtype=np.float64)
    if not np.isfinite(sales).all() or (sales < 0).any():
        raise ValueError("Sales must be finite and >= 0 on every row")
    closed = test.loc[test["Open"] == 0, "Id"].astype("int64")
    if (sub.set_index("Id").loc[closed, "Sales"] != 0).any():
        raise ValueError("a closed store is predicted to sell something")


def closure_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Every run of consecutive closed days (``Open == 0``) of each store: Store, first, last
    and days (the run's length). Rows must be one per (Store, Date); a missing day ends a run."""
    require_columns(frame, ["Store", "Date", "Open"], "closure_runs")
    rows, _, keys = day_keys(frame)
    closed = (rows["Open"] == 0).to_numpy()
    continues = np.r_[False, closed[:-1] & (np.diff(keys) == 1)]
    run = np.cumsum(closed & ~continues)
    runs = pd.DataFrame(
        {
            "run": run[closed],
            "Store": rows["Store"].to_numpy()[closed],
            "Date": rows["Date"].to_numpy()[closed],
        }
    )
    out = runs.groupby("run").agg(
        Store=("Store", "first"), first=("Date", "min"), last=("Date", "max"), days=("Date", "size")
    )
    return out.reset_index(drop=True)


def around_closures(frame: pd.DataFrame, min_days: int = 3, reach: int = 10) -> pd.DataFrame:
    """Sales on the ``reach`` days before and after every closure of at least ``min_days``
    days, relative to the store's median sales on that weekday: one row per (closure, side,
    distance in days), for open days with sales only."""
    require_columns(frame, ["Store", "Date", "Open", "Sales", "DayOfWeek"], "around_closures")
    runs = closure_runs(frame)
    runs = runs[runs["days"] >= min_days].reset_index(names="closure")
    open_days = frame[(frame["Open"] == 1) & (frame["Sales"] > 0)]
    typical = open_days.groupby(["Store", "DayOfWeek"])["Sales"].median().rename("typical")
    rows = open_days.join(typical, on=["Store", "DayOfWeek"])
    rows = rows.assign(ratio=rows["Sales"] / rows["typical"])[["Store", "Date", "ratio"]]
    parts = []
    for side, anchor, sign in (("before", "first", -1), ("after", "last", 1)):
        for k in range(1, reach + 1):
            days = runs[["closure", "Store"]].assign(
                Date=runs[anchor] + pd.Timedelta(days=sign * k), side=side, distance=k
            )
            parts.append(days)
    near = pd.concat(parts, ignore_index=True).merge(rows, on=["Store", "Date"])
    return near.sort_values(["closure", "side", "distance"], ignore_index=True)
