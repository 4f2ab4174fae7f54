"""The model as SQL (scoring/model/sql_scoring.py): exported weights give, in DuckDB, the
p_play scikit-learn computes, unknown values, log counts and booleans included."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from scoring.model.features import BOOLEAN_FEATURES, FEATURES, LOG_COUNT_FEATURES, prepare
from scoring.model.model_fit import CalibratedSVC, make_pipeline
from scoring.model.sql_scoring import export_weights, p_play_sql


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    data = {}
    for name in FEATURES:
        if name in LOG_COUNT_FEATURES:
            values = rng.integers(0, 500, n).astype("float64")
        elif name in BOOLEAN_FEATURES:
            values = rng.random(n) < 0.3
        else:
            values = rng.normal(0, 1, n)
        data[name] = pd.Series(values, dtype="object")
        data[name][rng.random(n) < 0.1] = None  # unknowns, imputed by the model's means
    return pd.DataFrame(data)


def test_sql_p_play_equals_scikit_learn(tmp_path):
    rng = np.random.default_rng(5)
    train = _frame(rng, 600)
    x = prepare(train)
    y = (np.nan_to_num(x[:, 0]) + rng.normal(0, 1, len(x)) > 3).astype(int)
    model = CalibratedSVC(make_pipeline(1.0, None, 0).fit(x, y), 1.3, -0.2)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    export_weights(con, "svc-test", model)
    export_weights(con, "svc-test", model)  # a second export replaces, never doubles
    assert con.execute("select count(*) from ml.model_weights").fetchall() == [(len(FEATURES),)]

    score = _frame(rng, 400)
    con.register("score", score)
    con.execute("create table f as select * from score")
    expr = p_play_sql(con, "svc-test", "f")
    sql_p = np.array([r[0] for r in con.execute(f"select {expr} from f").fetchall()])
    con.close()
    np.testing.assert_allclose(sql_p, model.p_play(prepare(score)), rtol=0, atol=1e-9)
