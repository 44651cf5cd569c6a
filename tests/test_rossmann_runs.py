"""Rossmann runs on small hand-made frames: closure features and runs, the split, the metric,
the submission checks, and embeddings as features; and one short run on the real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lesson6lib import rossmann_pipeline as rp
from lesson6lib import rossmann_runs as rr
from lesson6lib.batches import TensorBatches
from lesson6lib.entity import EntityEmbeddingModel, embed_codes
from lesson6lib.learner import Learner
from lesson6lib.tabular import rmspe


def days(store: int, start: str, opens: list[int], sales: list[float] | None = None):
    dates = pd.date_range(start, periods=len(opens), freq="D")
    sales = sales if sales is not None else [100.0 * o for o in opens]
    return pd.DataFrame(
        {
            "Store": store,
            "Date": dates,
            "DayOfWeek": dates.day_of_week + 1,
            "Open": [float(o) for o in opens],
            "Sales": sales,
        }
    )


def test_closure_features_count_days_to_closures_other_than_sundays():
    # 2024-01-01 is a Monday; closed Wed 3rd and Sun 7th (a Sunday does not count)
    rows = days(1, "2024-01-01", [1, 1, 0, 1, 1, 1, 0, 1])
    out = rp.closure_features(rows, horizon=3)
    assert out["AfterClosure"].tolist() == [4, 4, 0, 1, 2, 3, 4, 4]
    assert out["BeforeClosure"].tolist() == [2, 1, 0, 4, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="Open"):
        rp.closure_features(rows.drop(columns="Open"))


def test_closure_runs_stop_at_open_days_missing_days_and_other_stores():
    a = days(1, "2024-01-01", [1, 0, 0, 0, 1, 0])
    b = days(2, "2024-01-01", [0, 0, 1])
    gap = days(2, "2024-01-05", [0])  # 4 January missing: a new run
    runs = rr.closure_runs(pd.concat([a, b, gap], ignore_index=True))
    assert runs[["Store", "days"]].values.tolist() == [[1, 3], [1, 1], [2, 2], [2, 1]]
    assert runs.loc[0, "first"] == pd.Timestamp("2024-01-02")


def test_around_closures_divides_by_the_usual_sales_of_that_weekday():
    opens = [1] * 14 + [0] * 3 + [1] * 14
    sales = [100.0] * 14 + [0.0] * 3 + [300.0] + [100.0] * 13
    near = rr.around_closures(days(1, "2024-01-01", opens, sales), min_days=3, reach=2)
    after = near[near["side"] == "after"].set_index("distance")["ratio"]
    assert after[1] == pytest.approx(3.0) and after[2] == pytest.approx(1.0)
    assert set(near["side"]) == {"before", "after"}


def frame_for_split() -> pd.DataFrame:
    train = days(1, "2014-07-30", [1, 1, 1, 0, 1, 1], [10.0, 20, 30, 0, 0, 60])
    test = days(1, "2015-08-01", [1, 0]).assign(Sales=np.nan, Id=[2, 1])
    frame = pd.concat([train.assign(is_test=False), test.assign(is_test=True)], ignore_index=True)
    for c in rp.CATEGORICAL:
        frame[c] = frame["DayOfWeek"]
    for c in rp.CONTINUOUS:
        frame[c] = 1.0
    frame.loc[frame["is_test"], "Store"] = 99  # a store training never saw
    return frame


def test_split_keeps_sold_days_and_uses_the_window():
    split = rr.split_frame(frame_for_split())
    assert split.train["Date"].dt.strftime("%m-%d").tolist() == ["07-30", "07-31"]
    assert split.valid["Date"].dt.strftime("%m-%d").tolist() == ["08-01", "08-04"]
    assert len(split.test) == 2
    codes, conts, y = split.tensors("train")
    assert codes.shape == (2, len(rp.CATEGORICAL)) and conts.shape == (2, len(rp.CONTINUOUS))
    assert torch.allclose(y, torch.log(torch.tensor([10.0, 20.0])))
    store = split.encoder.columns.index("Store")
    assert split.tensors("test")[0][:, store].tolist() == [0, 0]  # unknown store -> code 0
    assert len(rr.split_frame(frame_for_split(), rr.RossmannPreset(closure_features=False))
               .encoder.columns) == 22  # fmt: skip
    with pytest.raises(ValueError, match="sample"):
        rr.split_frame(frame_for_split(), rr.RossmannPreset(sample=0))
    with pytest.raises(ValueError, match="part"):
        split.tensors("validation")


def test_exp_rmspe_is_kaggles_metric_over_all_rows():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(100, generator=gen) * 3 + 5
    pred = target + torch.randn(100, generator=gen) * 0.2
    expected = rmspe(np.exp(target.numpy()), np.exp(pred.numpy()))
    assert rr.exp_rmspe(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_evaluate_takes_the_root_after_averaging_over_batches():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(100, generator=gen) * 3 + 5
    pred = target + torch.randn(100, generator=gen) * 0.2
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Flatten(0))
    learn = Learner(
        model,
        TensorBatches(pred[:, None], target, batch_size=7),
        torch.nn.functional.mse_loss,
        torch.optim.SGD(model.parameters(), lr=0.1),
        metrics=[rr.exp_rmspe],
    )
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    out = learn.evaluate(TensorBatches(pred[:, None], target, batch_size=7))
    assert out["exp_rmspe"] == pytest.approx(rr.exp_rmspe(pred, target).item(), rel=1e-5)


def test_check_submission_names_each_problem():
    test = pd.DataFrame({"Id": [1, 2, 3], "Open": [1.0, 0.0, np.nan]})
    good = pd.DataFrame({"Id": [1, 2, 3], "Sales": [5.0, 0.0, 7.0]})
    rr.check_submission(good, test)
    bad = {
        "columns": good.rename(columns={"Sales": "sales"}),
        "more than once": good.assign(Id=[1, 1, 3]),
        "Ids differ": good.assign(Id=[1, 2, 4]),
        "finite": good.assign(Sales=[5.0, 0.0, math.nan]),
        "closed store": good.assign(Sales=[5.0, 1.0, 7.0]),
    }
    for message, sub in bad.items():
        with pytest.raises(ValueError, match=message):
            rr.check_submission(sub, test)


def test_embed_codes_looks_up_the_learned_rows():
    model = EntityEmbeddingModel([5, 3], n_cont=1, hidden=(4,), dropouts=(0.0,))
    codes = torch.tensor([[4, 0], [1, 2]])
    out = embed_codes(model, codes, [1, 0])
    w0, w1 = model.embeddings[0].weight, model.embeddings[1].weight
    assert torch.equal(out, torch.cat([w1[codes[:, 1]], w0[codes[:, 0]]], dim=1))
    with pytest.raises(ValueError, match="out of range"):
        embed_codes(model, codes, [2])
    with pytest.raises(ValueError, match="codes must be"):
        embed_codes(model, codes[:, :1], [0])
