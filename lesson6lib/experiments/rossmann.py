"""The Rossmann runs of the pages, as functions of a preset: the split by a date window, the
entity-embedding model trained on log sales, and the Kaggle submission.

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

from lesson6lib import optim, rossmann_features, schedules
from lesson6lib.batches import TensorBatches
from lesson6lib.checks import check_int, check_number
from lesson6lib.entity import EntityEmbeddingModel
from lesson6lib.experiments.base import Experiment, Preset, RunResult
from lesson6lib.learner import Learner
from lesson6lib.metrics import exp_rmspe, rmspe
from lesson6lib.runtime import seed_everything
from lesson6lib.tabular import CategoryEncoder, ContinuousScaler, require_columns

__all__ = [
    "EXPERIMENTS",
    "VALID_WINDOW",
    "RossmannPreset",
    "RossmannResult",
    "RossmannSplit",
    "check_submission",
    "in_window",
    "model_settings",
    "predict_sales",
    "rossmann_learner",
    "split_frame",
    "submission",
    "train_rossmann",
]

VALID_WINDOW = (pd.Timestamp("2014-08-01"), pd.Timestamp("2014-09-17"))
"""The validation days: as many (48) as the test period, 2015-08-01 to 2015-09-17, one year
earlier, so that the summer holidays fall in both."""


@dataclass(frozen=True)
class RossmannPreset(Preset):
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

    def check(self) -> None:
        self.positive("batch_size", "epochs", "lr")
        self.fraction("sample", high_open=False)
        if len(self.dropouts) != len(self.hidden):
            raise ValueError(
                f"{self._field('dropouts')} needs one rate per hidden layer: got "
                f"{len(self.dropouts)} for {self._field('hidden')} = {self.hidden}"
            )
        for i, (width, p) in enumerate(zip(self.hidden, self.dropouts, strict=True)):
            check_int(f"{self._field('hidden')}[{i}]", width)
            check_number(f"{self._field('dropouts')}[{i}]", p, 0.0, 1.0, high_open=True)
        check_number(self._field("emb_dropout"), self.emb_dropout, 0.0, 1.0, high_open=True)
        check_number(self._field("weight_decay"), self.weight_decay, 0.0)
        check_int(self._field("seed"), self.seed, low=0)
        if self.seed >= 2**32:
            raise ValueError(f"{self._field('seed')} must be < 2**32, got {self.seed}")


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


@dataclass(kw_only=True)
class RossmannResult(RunResult):
    """A trained Rossmann model: ``valid_rmspe`` (the headline ``value``) is Kaggle's metric
    on the validation window, from ``valid_pred``, the predicted sales of ``split.valid``."""

    split: RossmannSplit = field(repr=False)
    valid_pred: np.ndarray = field(repr=False)
    valid_rmspe: float


def in_window(dates: pd.Series, window: tuple[pd.Timestamp, pd.Timestamp] = VALID_WINDOW):
    """True for the dates inside ``window`` (both ends included)."""
    dates = pd.to_datetime(dates)
    return (dates >= window[0]) & (dates <= window[1])


def split_frame(frame: pd.DataFrame, preset: RossmannPreset = RossmannPreset()) -> RossmannSplit:
    """Validation = the training days in :data:`VALID_WINDOW`; training = the other training
    days (a ``preset.sample`` share of them, drawn with ``preset.seed``); test = the test rows.
    Only days with sales > 0 are kept for training and validation: closed days sell nothing and
    Kaggle's metric skips them. The features were computed before this, on every day."""
    if not isinstance(preset, RossmannPreset):
        raise TypeError(f"preset must be a RossmannPreset, got {type(preset).__name__}")
    require_columns(frame, ["is_test", "Open", "Sales", "Date"], "split_frame")
    sold = ~frame["is_test"] & (frame["Open"] == 1) & (frame["Sales"] > 0)
    window = in_window(frame["Date"])
    train = frame[sold & ~window]
    if preset.sample < 1:
        train = train.sample(frac=preset.sample, random_state=preset.seed).sort_index()
    categorical = list(rossmann_features.CATEGORICAL)
    if not preset.closure_features:
        categorical = list(rossmann_features.LESSON_CATEGORICAL)
    return RossmannSplit(
        train=train,
        valid=frame[sold & window],
        test=frame[frame["is_test"]],
        encoder=CategoryEncoder(categorical).fit(train),
        scaler=ContinuousScaler(rossmann_features.CONTINUOUS).fit(train),
    )


def model_settings(preset: RossmannPreset, split: RossmannSplit) -> dict:
    """The arguments of :class:`EntityEmbeddingModel` (or of a copy of it) for ``preset`` on
    ``split``: the codes per column, the continuous inputs, the layers and dropouts, and a
    y_range of (0, 1.2 max log sales). Batch norm (``preset.batchnorm``) is not among them: it
    is an option of the library's model."""
    _, conts, y = split.tensors("train")
    return {
        "cardinalities": split.encoder.cardinalities,
        "n_cont": conts.shape[1],
        "hidden": preset.hidden,
        "dropouts": preset.dropouts,
        "emb_dropout": preset.emb_dropout,
        "y_range": (0.0, 1.2 * float(y.max())),
    }


def rossmann_learner(
    preset: RossmannPreset,
    split: RossmannSplit,
    device: str | torch.device | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
) -> Learner:
    """A Learner with MSE on log sales, the metric :data:`~lesson6lib.metrics.exp_rmspe`, and
    Adam (L2 ``weight_decay``), on ``model`` or a new :class:`EntityEmbeddingModel` per
    ``preset`` (:func:`model_settings`). It does not seed: the run that calls it does."""
    if model is None:
        model = EntityEmbeddingModel(**model_settings(preset, split), batchnorm=preset.batchnorm)
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
) -> RossmannResult:
    """Seed with ``preset.seed``, then train per ``preset`` with a 1cycle schedule on ``split``
    (by default :func:`split_frame` of ``frame``, by default the cached Rossmann frame)."""
    seed_everything(preset.seed)
    if split is None:
        split = split_frame(rossmann_features.load_frame() if frame is None else frame, preset)
    learn = rossmann_learner(preset, split, device, progress, model)
    total = preset.epochs * len(learn.train_dl)
    start = time.perf_counter()
    history = learn.fit(
        preset.epochs, scheduler=schedules.OneCycle(learn.optimizer, preset.lr, total)
    )
    seconds = time.perf_counter() - start
    pred = predict_sales(learn, split, "valid")
    score = rmspe(split.valid["Sales"], pred)
    return RossmannResult(
        metric="valid_rmspe",
        value=score,
        seconds=seconds,
        history=history,
        learner=learn,
        split=split,
        valid_pred=pred,
        valid_rmspe=score,
    )


def submission(learn: Learner, split: RossmannSplit) -> pd.DataFrame:
    """Kaggle's format, one row per test row: ``Id`` and predicted ``Sales``, 0 where the store
    is closed (``Open == 0``); a missing ``Open`` is predicted as open."""
    sales = predict_sales(learn, split, "test")
    sales[split.test["Open"].to_numpy() == 0] = 0.0
    out = pd.DataFrame({"Id": split.test["Id"].astype("int64").to_numpy(), "Sales": sales})
    return out.sort_values("Id", ignore_index=True)


def _ids(frame: pd.DataFrame, who: str) -> pd.Series:
    """``frame["Id"]`` as int64, or a ValueError saying what is wrong with it."""
    ids = frame["Id"]
    if pd.api.types.is_bool_dtype(ids) or not pd.api.types.is_numeric_dtype(ids):
        raise ValueError(f"{who}'s Id must be integers, got dtype {ids.dtype}")
    if ids.isna().any():
        raise ValueError(f"{who}'s Id is missing on {int(ids.isna().sum())} rows")
    if (ids != np.floor(ids)).any():
        raise ValueError(f"{who}'s Id must be whole numbers")
    return ids.astype("int64")


def check_submission(sub: pd.DataFrame, test: pd.DataFrame) -> None:
    """Raise a ValueError naming the first problem: columns other than Id, Sales; Ids that are
    not whole numbers, missing, repeated or not exactly the test set's; Sales that are not
    numbers, missing, negative or infinite; or Sales > 0 on a row where the store is closed."""
    for name, frame in (("the submission", sub), ("the test set", test)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    if list(sub.columns) != ["Id", "Sales"]:
        raise ValueError(f"a submission has the columns ['Id', 'Sales'], got {list(sub.columns)}")
    require_columns(test, ["Id", "Open"], "check_submission (test)")
    ids, test_ids = _ids(sub, "the submission"), _ids(test, "the test set")
    if ids.duplicated().any():
        raise ValueError(f"{int(ids.duplicated().sum())} Ids appear more than once")
    if set(ids) != set(test_ids):
        raise ValueError("the Ids differ from the test set's")
    sales = sub["Sales"]
    if pd.api.types.is_bool_dtype(sales) or not pd.api.types.is_numeric_dtype(sales):
        raise ValueError(f"Sales must be numbers, got dtype {sales.dtype}")
    sales = sales.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(sales).all() or (sales < 0).any():
        raise ValueError("Sales must be finite and >= 0 on every row")
    closed = set(test_ids[(test["Open"] == 0).to_numpy()])
    if (sales[ids.isin(closed).to_numpy()] != 0).any():
        raise ValueError("a closed store is predicted to sell something")


EXPERIMENTS = (
    Experiment(
        name="rossmann",
        page="rossmann-training",
        summary="entity embeddings on Rossmann's daily sales, scored by validation RMSPE",
        presets={
            "cpu": RossmannPreset(),
            "full": RossmannPreset(hidden=(1000, 500), epochs=12, lr=5e-3),
        },
        run=train_rossmann,
    ),
)
"""The ``rossmann`` experiment, as the command line and the registry list it."""
