"""The README's list of models that need ``--trust-type`` as .skops files, checked against skops,
and the flag at work: refused with the exact flags printed, loaded with them."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from ._harness import FEATURES, TARGET, base_frame, problems, run_case
from ._policy_text import write_policy

README = Path(__file__).resolve().parents[2] / "README.md"
TREE = "sklearn.tree._tree.Tree"
HGB = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"

# model -> the types outside skops' safe list, as the README states them.
MODELS = [
    (LogisticRegression(), []),
    (make_pipeline(StandardScaler(), LogisticRegression()), []),
    (SVC(probability=True, random_state=0), []),
    (DecisionTreeClassifier(random_state=0), [TREE]),
    (RandomForestClassifier(5, random_state=0), [TREE]),
    (ExtraTreesClassifier(5, random_state=0), [TREE]),
    (GradientBoostingClassifier(n_estimators=5, random_state=0), [TREE]),
    (HistGradientBoostingClassifier(max_iter=5, random_state=0), [HGB]),
    (MLPClassifier(max_iter=300, random_state=0), ["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"]),
    (KNeighborsClassifier(), ["sklearn.metrics._dist_metrics.EuclideanDistance64",
                              "sklearn.neighbors._kd_tree.KDTree"]),
]


@pytest.mark.parametrize("model, types", MODELS, ids=lambda m: type(m).__name__ if not isinstance(m, list) else "")
def test_readme_names_the_types_skops_does_not_trust(model, types):
    import skops.io as sio

    x, y = make_classification(200, 5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP's convergence notice: not what this test is about
        model.fit(x, y)
    assert sorted(sio.get_untrusted_types(data=sio.dumps(model))) == sorted(types)
    readme = README.read_text()
    for t in types:
        assert f"`--trust-type {t}`" in readme or f"`{t}`" in readme, t


def test_trust_type_loads_exactly_the_named_types(fuzz_workspace, tmp_path):
    import skops.io as sio

    df = base_frame()
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(df[FEATURES], df[TARGET])
    path = fuzz_workspace.root / "hgb" / "model.skops"
    path.parent.mkdir()
    sio.dump(model, path)
    policy = write_policy(fuzz_workspace, "hgb", edit=lambda p: p["model"].update(path="model.skops"))
    out = tmp_path / "out"
    refused = run_case(["run", str(policy), "--no-pdf", "--quiet", "--out", str(out)], out)
    assert refused.code == 2 and not problems(refused, [HGB])
    assert f"--trust-type {HGB}" in refused.stderr
    # A different type does not allow it.
    wrong = run_case(["run", str(policy), "--trust-type", TREE, "--no-pdf", "--quiet", "--out", str(out)], out)
    assert wrong.code == 2 and HGB in wrong.stderr
    allowed = run_case(["run", str(policy), "--trust-type", HGB, "--no-pdf", "--quiet", "--out", str(out)], out)
    assert allowed.code in (0, 1), allowed.stderr
    assert not problems(allowed)
    assert re.search(r'"sha256": "[0-9a-f]{64}"', next(out.glob("*/results.json")).read_text())
