"""Sequential CART synthesis as a synthcity plugin (the method of R's synthpop, on scikit-learn trees).

Columns are generated one after another: the first from its marginal, each later one by a decision
tree grown on the real rows to predict it from the columns before it. A synthetic row walks the
tree to a leaf and takes that column's value from a random real row ("donor") of the leaf; numeric
values are then smoothed with a Gaussian kernel so no real value is copied verbatim unless it is a
frequent one (such as a zero). The label goes last, so it is drawn from a model of it given every
other column: the relation a downstream model learns. By default that model is gradient boosting,
which a single tree with privacy-sized leaves cannot match: a categorical label is drawn from its
predicted class probabilities; a numeric label is its prediction plus a residual drawn from the
cross-fitted (out-of-fold) residuals of real rows with a similar prediction, so the noise has the
real size and shape where it is (a residual, never a real label, is what a real row contributes).

Why it is here: on UCI Adult no synthcity 0.2.12 plugin met our default-generator targets (see
BENCHMARKS.md); this one trains in seconds on a CPU. `min_samples_leaf` is the privacy knob: every
value is drawn from at least that many real rows, so larger leaves blur single people.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pydantic import validate_arguments
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.preprocessing import PowerTransformer
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from synthcity.plugins.core.dataloader import DataLoader
from synthcity.plugins.core.distribution import Distribution, IntegerDistribution
from synthcity.plugins.core.plugin import Plugin
from synthcity.plugins.core.schema import Schema

from synth_pipelines.core.openmp import one_openmp_thread
from synth_pipelines.core.value_formats import exact_values, reflect_into
from synth_pipelines.generators.dependencies import determinants_first, functional_dependencies, in_order
from synth_pipelines.generators.keep_duplicates import KeepsDuplicates
from synth_pipelines.generators.label_bands import REDRAWS, label_bands, label_range

# A numeric value many real rows hold is nobody's own and is kept exact (smoothing it would invent values
# nobody has): value_formats.exact_values, any value of a discrete column, a spike (a 0, a cap) or a point
# mass (a place many stops share). Other values are smoothed: a day 5 accounts share among days that
# hold 2 each, kept exact beside the district the tree narrowed it to, recreated real rows (Berka accounts:
# 14% exact copies against the holdout's 5%; BENCHMARKS.md).
# min_samples_leaf when not set: rows / 40, within [40, 200]. Measured (BENCHMARKS.md): on Adult
# (32.6k rows) leaves of 20 gave a DCR share of 0.58 and 200 gave 0.51 at the same utility; on the
# demo (3.8k rows) 100 passed every QA check with DCR 0.51-0.52. 200 keeps large tables detailed; on a
# small one a row is a large share of every leaf, so the floor is 40: on Berka's 227-row loan view leaves
# of 20 put the DCR share over the gate's 0.60 on 9 of 12 seeds (mean 0.613; real rows neither side saw:
# 0.491), the automatic leaves now (40, category leaves below) on 0 of 12 (0.571), at the same TSTR/TRTR
# (0.905 vs 0.934 with every leaf 40, seed noise).
AUTO_LEAF_ROWS_PER_LEAF, AUTO_LEAF_MIN, AUTO_LEAF_MAX = 40, 40, 200
# With the automatic leaf size, a category column's tree gets leaves of at most rows / (2 x its categories)
# (never under AUTO_LEAF_MIN): leaves of 200 cannot tell 87 neighbourhoods apart, so a row's neighbourhood
# was drawn from rows far from its coordinates (mpls_stops: discriminator AUC 0.82 -> 0.71, DCR share
# unchanged; tables whose categories are few relative to their rows keep every leaf; BENCHMARKS.md). The floor
# is the small tables' own: under it (20 until stop 38) every category column of a few-hundred-row table (an
# education of 20 values, a number of children) got leaves of 20, and its rows came back near their train rows
# (AER's SwissLabor and Affairs, 8 splits: DCR share 0.605 -> 0.568, real rows neither side saw 0.506).
AUTO_LEAF_ROWS_PER_CATEGORY = 2
# A numeric label's residuals: out-of-fold over RESIDUAL_FOLDS folds, pooled in RESIDUAL_BANDS bands of
# the prediction (each band holds thousands of rows on a large table, a few dozen on a small one).
RESIDUAL_FOLDS, RESIDUAL_BANDS = 5, 20
# A numeric label's booster: the candidate with the lowest out-of-fold error, the smoother one first (kept
# on a tie). The synthetic label is the booster's prediction plus noise, and a model trained on it learns
# the booster's own estimation error on top of its own: on noisy labels (wages, R2 ~0.3) sklearn's default
# booster cost 10-25% of TSTR R2 (BENCHMARKS.md), a smoother one recovers it; early stopping on 10% of the
# rows sets the trees' number per table.
LABEL_REGRESSORS = (
    {"max_leaf_nodes": 15, "learning_rate": 0.05, "max_iter": 500, "early_stopping": True},
    {"max_leaf_nodes": 31, "learning_rate": 0.1, "max_iter": 200, "early_stopping": True},
)
# A class label's booster fits its own rows closely: on rows it never saw (the synthetic ones) its
# probabilities of a rare class fall short (Berka's 227 loans: 7.1% bad loans drawn for 11.0% real). Each
# class's probability is scaled so the out-of-fold probabilities average to the real shares, the ranking kept.
OFFSET_FOLDS, OFFSET_FOLDS_MAX_ROWS = 5, 50_000
# A skewed column is smoothed where its values are about symmetric: one kernel width on a crime rate whose
# median is 0.26 and whose tail reaches 89 moved the many small values up and left the tail as it was (Boston
# housing's first column: 1 - KS 0.64; BENCHMARKS.md). Below this many distinct values to smooth, no scale;
# the exponent is fitted on a sample of at most SCALE_FIT_ROWS values.
SCALE_MIN_VALUES, SCALE_FIT_ROWS = 20, 10_000


def _out_of_fold_proba(booster: Any, x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Class probabilities of each row from a booster that did not see it (rows of the class order of
    np.unique(y)); 5 folds, fewer where a class has fewer rows, 2 on large tables (cost)."""
    smallest = int(np.unique(y, return_counts=True)[1].min())
    folds = max(2, min(OFFSET_FOLDS if len(y) <= OFFSET_FOLDS_MAX_ROWS else 2, smallest))
    return cross_val_predict(booster, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                             method="predict_proba")


def class_share_offsets(probabilities: np.ndarray, shares: np.ndarray, rounds: int = 200,
                        rows: int = 20_000) -> np.ndarray:
    """Per-class factors w such that the probabilities p_i * w, renormalised per row, average to `shares`
    (a prior-shift correction, Saerens et al. 2002, solved by fixed-point iteration; on at most `rows`
    rows, a seeded sample: each round costs rows x classes)."""
    if len(probabilities) > rows:
        probabilities = probabilities[np.random.default_rng(0).choice(len(probabilities), rows, replace=False)]
    weights = np.ones(len(shares))
    for _ in range(rounds):
        mean = scaled_by_class(probabilities, weights).mean(axis=0)
        if np.allclose(mean, shares, atol=1e-4):
            break
        weights *= shares / np.maximum(mean, 1e-12)
    return weights / weights.max()


def scaled_by_class(probabilities: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row's class probabilities times the class weights, renormalised to sum to 1."""
    scaled = probabilities * weights
    return scaled / np.maximum(scaled.sum(axis=1, keepdims=True), np.finfo(float).tiny)


def auto_min_samples_leaf(rows: int) -> int:
    return int(min(AUTO_LEAF_MAX, max(AUTO_LEAF_MIN, rows // AUTO_LEAF_ROWS_PER_LEAF)))


def auto_category_leaf(rows: int, categories: int, leaf: int) -> int:
    """A category column's leaf size under the automatic setting: `leaf`, or smaller where the column has
    too many categories for leaves that size to separate them."""
    return int(min(leaf, max(AUTO_LEAF_MIN, rows // (AUTO_LEAF_ROWS_PER_CATEGORY * max(categories, 1)))))


class SmoothingScale:
    """The scale a numeric column is smoothed on: a Yeo-Johnson power transform (scikit-learn's
    PowerTransformer, the exponent fitted by maximum likelihood) of the column's values centred on their
    median and divided by their spread, so the exponent depends on the shape alone. A right-skewed column
    is smoothed about on its logarithm, a symmetric one about as it is. Kernel noise added on this scale
    and mapped back is as wide as the values are spread where a donor sits. Numbers noise pushes past the
    column's transformed range are mirrored into it first (the inverse is undefined beyond it)."""

    def __init__(self, values: np.ndarray) -> None:
        self.center = float(np.median(values))
        q1, q3 = np.percentile(values, [25, 75])
        self.spread = float((q3 - q1) / 1.34) or float(values.std()) or 1.0
        sample = (values if len(values) <= SCALE_FIT_ROWS
                  else np.random.default_rng(0).choice(values, SCALE_FIT_ROWS, replace=False))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.power = PowerTransformer(standardize=False).fit(self._standardized(sample))
        self.low, self.high = (float(v) for v in self.forward(np.array([values.min(), values.max()])))

    def _standardized(self, values: np.ndarray) -> np.ndarray:
        return ((values.astype(float) - self.center) / self.spread)[:, None]

    def forward(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.power.transform(self._standardized(values))[:, 0]

    def back(self, transformed: np.ndarray) -> np.ndarray:
        inside = reflect_into(transformed, self.low, self.high)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.power.inverse_transform(inside[:, None])[:, 0] * self.spread + self.center

    @classmethod
    def of(cls, values: np.ndarray) -> SmoothingScale | None:
        """The scale for these values (those to be smoothed), or None (too few distinct values to fit one,
        or the fit failed or is not finite: the column is smoothed as it is)."""
        if len(np.unique(values)) < SCALE_MIN_VALUES:
            return None
        try:
            scale = cls(values)
        except (ValueError, ArithmeticError):
            return None
        return scale if np.isfinite([scale.low, scale.high, *scale.power.lambdas_]).all() else None


def _spread(values: np.ndarray) -> float:
    """Silverman's spread: the smaller of the standard deviation and the interquartile range / 1.34 (the
    standard deviation where the quartiles coincide)."""
    std = float(values.std())
    return min(std, float(np.percentile(values, 75) - np.percentile(values, 25)) / 1.34) or std


class _Column:
    """What generating one column needs: its tree (None for the first) and the donors per leaf."""

    def __init__(self, name: str, tree: Any, leaf_ids: np.ndarray, donors: np.ndarray, starts: np.ndarray,
                 sizes: np.ndarray, bandwidth: np.ndarray | None, exact: np.ndarray,
                 scale: SmoothingScale | None = None) -> None:
        self.name, self.tree, self.leaf_ids, self.donors = name, tree, leaf_ids, donors
        # exact: per donor, whether its value is emitted as it is (not smoothed)
        self.starts, self.sizes, self.bandwidth, self.exact = starts, sizes, bandwidth, exact
        self.scale = scale  # where there is one, the bandwidth is on its values


class CartPlugin(KeepsDuplicates, Plugin):
    """Sequential CART synthesizer (synthpop's method).

    Args:
        min_samples_leaf: real rows per tree leaf at least (the donors a value is drawn from);
            None = auto_min_samples_leaf(rows), and for a category column with many categories
            auto_category_leaf (recorded as category_leaves). A set value holds for every column.
        max_depth: depth limit of each tree; None = grown until min_samples_leaf stops it.
        smoothing: Gaussian-kernel smoothing of numeric donor values (spikes stay exact).
        label_last: generate the loader's target column last (from every other column).
        label_model: "boosting" draws the label from gradient boosting (class probabilities, or a
            prediction plus a cross-fitted residual for a numeric label); "tree" uses a CART leaf
            like every other column.
        label_kind: "category" or "number", the label's kind as the pipeline's codec has it (set by the
            pipeline); None = as synthcity encodes it (text and columns of fewer than 15 values are
            categories), which takes a whole-number regression label with few values for a class.
        label_missing_flag: the column (1 = the label is missing) the pipeline's codec puts before a numeric
            label with missing values (set by the pipeline): rows without a label are left out of the
            label's model, whose value there is only the codec's fill.
        strict: synthcity's filter of each generated batch against the training schema. Off by default:
            every draw is in the domain by construction (real donors, smoothed numbers reflected into the
            real range). Duplicate rows are kept either way (keep_duplicates.py: dropping them skewed every
            share on a table whose real rows repeat, a census extract of 8 mostly yes/no columns: 47% of real
            women worked 0 weeks, 9% of the synthetic ones kept; BENCHMARKS.md).
    """

    @validate_arguments(config=dict(arbitrary_types_allowed=True))
    def __init__(self, min_samples_leaf: int | None = None, max_depth: int | None = None, smoothing: bool = True,
                 label_last: bool = True, label_model: str = "boosting", label_kind: str | None = None,
                 label_missing_flag: str | None = None, random_state: int = 0, strict: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(random_state=random_state, strict=strict, **kwargs)
        if min_samples_leaf is not None and min_samples_leaf < 1:
            raise ValueError("min_samples_leaf must be at least 1")
        if label_model not in ("boosting", "tree"):
            raise ValueError(f"label_model must be 'boosting' or 'tree', not {label_model!r}")
        if label_kind not in (None, "category", "number"):
            raise ValueError(f"label_kind must be 'category', 'number' or None, not {label_kind!r}")
        self.min_samples_leaf, self.max_depth = min_samples_leaf, max_depth
        self.smoothing, self.label_last, self.label_model = smoothing, label_last, label_model
        self.label_kind, self.label_missing_flag = label_kind, label_missing_flag
        self.label_regressor_: dict[str, Any] | None = None
        self.columns_: list[_Column] = []
        self.label_booster_: HistGradientBoostingClassifier | HistGradientBoostingRegressor | None = None
        self.residual_edges_: np.ndarray | None = None
        self.residuals_: list[np.ndarray] = []
        self.label_values_: np.ndarray | None = None
        self.dependencies_: dict[str, Any] = {}
        self.label_bands_: list[Any] = []

    @staticmethod
    def name() -> str:
        return "cart"

    @staticmethod
    def type() -> str:
        return "generic"

    @staticmethod
    def hyperparameter_space(**kwargs: Any) -> list[Distribution]:
        return [IntegerDistribution(name="min_samples_leaf", low=5, high=100, step=5)]

    def _order(self, X: DataLoader, frame: pd.DataFrame) -> list[str]:
        order = list(frame.columns)
        target = getattr(X, "target_column", None)
        if self.label_last and target in order:
            order.remove(target)
            order.append(target)
        return order

    @one_openmp_thread
    def _fit(self, X: DataLoader, *args: Any, **kwargs: Any) -> CartPlugin:
        frame = X.dataframe()
        target_column = getattr(X, "target_column", None)
        # A column another one fixes in every real row is looked up from it (dependencies.py), so the
        # determining column is generated first.
        order = self._order(X, frame)
        dependencies = functional_dependencies(frame, order, fixed={target_column, self.label_missing_flag} - {None})
        self.order_ = determinants_first(order, dependencies)
        self.dependencies_ = in_order(self.order_, dependencies)
        # synthcity label-encodes text columns and any with < 15 values before _fit (integer columns already
        # coded 0..k-1 it leaves as they are): those are the categories.
        categorical = set(self._data_encoders or {}) | {
            name for name in frame.columns if frame[name].dtype.kind in "iub" and frame[name].nunique() < 15}
        self.min_samples_leaf_ = self.min_samples_leaf or auto_min_samples_leaf(len(frame))
        self.category_leaves_: dict[str, int] = {}
        self.columns_, self.label_booster_, self.residual_edges_, self.residuals_ = [], None, None, []
        self.label_values_, self.label_regressor_, self.label_offsets_, self.label_bands_ = None, None, None, []
        for position, name in enumerate(self.order_):
            target = frame[name].to_numpy()
            if position == 0:
                tree, leaves = None, np.zeros(len(frame), dtype=np.int64)
            else:
                tree_class = DecisionTreeClassifier if name in categorical else DecisionTreeRegressor
                leaf = self.min_samples_leaf_
                if name in categorical and self.min_samples_leaf is None:
                    leaf = auto_category_leaf(len(frame), frame[name].nunique(), leaf)
                    if leaf < self.min_samples_leaf_:
                        self.category_leaves_[name] = leaf
                tree = tree_class(min_samples_leaf=leaf, max_depth=self.max_depth,
                                  random_state=self.random_state)
                inputs = frame[self.order_[:position]].to_numpy(dtype=float)
                leaves = tree.fit(inputs, target).apply(inputs)
            self.columns_.append(self._donors(name, tree, leaves, target, numeric=name not in categorical))
        if (self.label_last and self.label_model == "boosting" and target_column in self.order_
                and len(self.order_) > 1 and frame[target_column].nunique() > 1):
            self._fit_label_booster(frame, target_column, categorical)
        return self

    def _fit_label_booster(self, frame: pd.DataFrame, target_column: str, categorical: set[str]) -> None:
        inputs = frame[self.order_[:-1]]
        options = dict(categorical_features=[c in categorical and inputs[c].max() < 255 for c in inputs.columns],
                       random_state=self.random_state)
        x, y = inputs.to_numpy(dtype=float), frame[target_column].to_numpy()
        numeric = self.label_kind == "number" if self.label_kind is not None else target_column not in categorical
        if not numeric:
            # A class of one row is left out: it is one person's value, sklearn's early stopping (from 10,000
            # rows) cannot split it stratified, and below that it distorts every class (nycflights13's planes,
            # one 'Turbo-prop': on the real planes the booster expected 165 Reciprocating engines for 19 real).
            values, counts = np.unique(y, return_counts=True)
            if (counts >= 2).sum() > 1:
                learnable = np.isin(y, values[counts >= 2])
                x, y = x[learnable], y[learnable]
                self.label_booster_ = HistGradientBoostingClassifier(**options).fit(x, y)
                # the folds' boosters as large as the booster (no early stopping: its split needs 2 rows a class)
                same_size = HistGradientBoostingClassifier(**options, max_iter=self.label_booster_.n_iter_,
                                                           early_stopping=False)
                self.label_offsets_ = class_share_offsets(_out_of_fold_proba(same_size, x, y, self.random_state),
                                                          counts[counts >= 2] / len(y))
            return
        coded = getattr((self._data_encoders or {}).get(target_column), "classes_", None)
        if coded is not None:  # synthcity coded the numbers 0..k-1 (few values): regress on the numbers
            self.label_values_ = np.asarray(coded, dtype=float)
            y = self.label_values_[y.astype(int)]
        y = y.astype(float)
        labelled = np.ones(len(y), dtype=bool)
        if self.label_missing_flag in inputs.columns:  # the fill is no value: learn from labelled rows only
            labelled = inputs[self.label_missing_flag].to_numpy() == 0
            x, y = x[labelled], y[labelled]
        flags = [c for c in inputs.columns if c in categorical and c != self.label_missing_flag]
        self.label_bands_ = label_bands(inputs.loc[labelled, flags].assign(**{target_column: y}), target_column, flags)
        folds = KFold(n_splits=min(RESIDUAL_FOLDS, len(y)), shuffle=True, random_state=self.random_state)
        errors, predictions = [], []
        for candidate in LABEL_REGRESSORS:
            predictions.append(cross_val_predict(HistGradientBoostingRegressor(**options, **candidate), x, y, cv=folds))
            errors.append(float(np.mean((y - predictions[-1]) ** 2)))
        best = int(np.argmin(errors))
        predicted, self.label_regressor_ = predictions[best], LABEL_REGRESSORS[best]
        self.label_booster_ = HistGradientBoostingRegressor(**options, **self.label_regressor_).fit(x, y)
        self.residual_edges_ = np.unique(np.quantile(predicted, np.linspace(0, 1, RESIDUAL_BANDS + 1)[1:-1]))
        bands = np.searchsorted(self.residual_edges_, predicted, side="right")
        self.residuals_ = [(y - predicted)[bands == band] for band in range(len(self.residual_edges_) + 1)]

    def resolved_settings(self) -> dict[str, Any]:
        """The settings training actually used (automatic choices resolved), for the manifest."""
        return {"min_samples_leaf": self.min_samples_leaf_, "max_depth": self.max_depth, "smoothing": self.smoothing,
                "label_last": self.label_last, "label_model": self.label_model, "label_kind": self.label_kind,
                "strict": self.strict,
                **({"category_leaves": self.category_leaves_} if self.category_leaves_ else {}),
                **({"looked_up": {d: dep.determinant for d, dep in self.dependencies_.items()}}
                   if self.dependencies_ else {}),
                **({"label_missing_flag": self.label_missing_flag} if self.label_missing_flag else {}),
                **({"label_regressor": self.label_regressor_} if self.label_regressor_ else {}),
                **({"label_fixes": [band.column for band in self.label_bands_]} if self.label_bands_ else {})}

    def _donors(self, name: str, tree: Any, leaves: np.ndarray, target: np.ndarray, numeric: bool) -> _Column:
        """Real values grouped by leaf (sorted, with each leaf's start and size) and kernel bandwidths."""
        by_leaf = np.argsort(leaves, kind="stable")
        leaf_ids, starts, sizes = np.unique(leaves[by_leaf], return_index=True, return_counts=True)
        donors = target[by_leaf]
        bandwidth, exact, scale = None, np.ones(len(donors), dtype=bool), None
        if numeric and self.smoothing:
            exact = np.isin(donors, exact_values(target.astype(float)))
            scale = SmoothingScale.of(donors[~exact].astype(float))
            # A leaf's width comes from all its donors, spikes too (narrower kernels around a leaf's rare
            # values brought their rows back: births14's DCR share 0.55 -> 0.63). On a scale, a spike beyond
            # the smoothed values' range counts at that range's end: the power law extrapolated puts a -999
            # sentinel far beyond, and a width it set sent half the draws to the range's end, one person's value.
            measured = (donors.astype(float) if scale is None
                        else np.clip(scale.forward(donors), scale.low, scale.high))
            bandwidth = np.zeros(len(leaf_ids))
            for i, (start, size) in enumerate(zip(starts, sizes, strict=True)):
                bandwidth[i] = 0.9 * _spread(measured[start:start + size]) * size ** -0.2  # Silverman's rule
        return _Column(name, tree, leaf_ids, donors, starts, sizes, bandwidth, exact, scale)

    def sample_given(self, given: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """One row per row of `given`, whose columns (the leading columns of training, as fit saw them
        before synthcity's encoding) are kept; the later columns are drawn given them. Multi-table
        synthesis conditions a child's rows on its parent's columns this way (core/multitable.py).
        A value training never saw takes the nearest known number, or the first category."""
        encoders = self._data_encoders or {}
        fixed = {}
        for name in given.columns:
            values = given[name].to_numpy()
            encoder = encoders.get(name)
            if encoder is not None:
                classes = encoder.classes_
                if classes.dtype.kind in "iuf" and len(classes) == 1:  # one value (a column constant in training)
                    values = np.zeros(len(values), int)
                elif classes.dtype.kind in "iuf":
                    nearest = np.clip(np.searchsorted(classes, values.astype(float)), 1, len(classes) - 1)
                    below = np.abs(values.astype(float) - classes[nearest - 1]) <= np.abs(classes[nearest] - values.astype(float))
                    values = np.where(below, nearest - 1, nearest)
                else:
                    values = np.maximum(pd.Categorical(values.astype(str), categories=classes.astype(str)).codes, 0)
            fixed[name] = values
        sampled = self._sample(len(given), given=fixed, rng=rng)
        for name, encoder in encoders.items():
            if name in sampled.columns:
                sampled[name] = encoder.inverse_transform(sampled[name].to_numpy().astype(int))
        return sampled

    @one_openmp_thread
    def _sample(self, count: int, given: dict[str, np.ndarray] | None = None,
                rng: np.random.Generator | None = None) -> pd.DataFrame:
        # seeded by generate(random_state=...) unless the caller passes its own generator
        rng = rng if rng is not None else np.random.default_rng(np.random.randint(0, 2**31 - 1))
        out: dict[str, np.ndarray] = dict(given or {})
        for position, column in enumerate(self.columns_):
            if column.name in out:
                continue
            if self.label_booster_ is not None and position == len(self.columns_) - 1:
                out[column.name] = self._sample_label(out, count, rng)
                continue
            if column.tree is None:
                leaf_index = np.zeros(count, dtype=np.int64)
            else:
                inputs = np.column_stack([out[name] for name in self.order_[:position]]).astype(float)
                leaf_index = np.searchsorted(column.leaf_ids, column.tree.apply(inputs))
            picks = column.starts[leaf_index] + (rng.random(count) * column.sizes[leaf_index]).astype(np.int64)
            values = column.donors[picks]
            if column.bandwidth is not None:
                smooth = ~column.exact[picks]
                noise = rng.normal(0.0, 1.0, count) * column.bandwidth[leaf_index]
                scale = getattr(column, "scale", None)  # models pickled before scales have none
                moved = (values.astype(float) + noise if scale is None
                         else scale.back(scale.forward(values.astype(float)) + noise))
                values = np.where(smooth, moved, values)
                # Kept inside the real range: synthcity drops every generated row with a value outside its
                # training schema, and with hundreds of smoothed columns nearly every row has one.
                values = reflect_into(values, float(column.donors.min()), float(column.donors.max()))
            dependency = getattr(self, "dependencies_", {}).get(column.name)
            if dependency is not None:
                found, looked_up = dependency.look_up(out)
                values = np.where(found, looked_up, values).astype(values.dtype)
            out[column.name] = values
        return pd.DataFrame(out)[list(self.training_schema().features())]

    def _sample_label(self, out: dict[str, np.ndarray], count: int, rng: np.random.Generator) -> np.ndarray:
        inputs = np.column_stack([out[name] for name in self.order_[:-1]]).astype(float)
        if self.residual_edges_ is not None:
            predicted = self.label_booster_.predict(inputs)
            residual_bands = np.searchsorted(self.residual_edges_, predicted, side="right")
            values = predicted + self._residuals(residual_bands, rng)
            # A column the label fixes (label_bands.py) keeps its meaning: the label is drawn in its range.
            low, high = label_range(getattr(self, "label_bands_", []), out, count)  # none in older pickles
            for _ in range(REDRAWS):
                outside = np.flatnonzero((values < low) | (values > high))
                if not len(outside):
                    break
                values[outside] = predicted[outside] + self._residuals(residual_bands[outside], rng)
            # The rare row still outside is mirrored in (clipped, they would pile on the range's end) and kept
            # off the cut itself, which is midway between two real values: rounded to them it could go either way.
            values = np.clip(reflect_into(values, low, high), np.nextafter(low, np.inf), np.nextafter(high, -np.inf))
            if self.label_values_ is None:
                return values
            # Back to synthcity's codes: the nearest of the real values (those it decodes to).
            above = np.clip(np.searchsorted(self.label_values_, values), 1, len(self.label_values_) - 1)
            nearer_below = values - self.label_values_[above - 1] < self.label_values_[above] - values
            return np.where(nearer_below, above - 1, above)
        proba = self.label_booster_.predict_proba(inputs)
        offsets = getattr(self, "label_offsets_", None)  # models pickled before the offsets have none
        if offsets is not None:
            proba = scaled_by_class(proba, offsets)
        cumulative = proba.cumsum(axis=1)
        picks = (rng.random(count)[:, None] > cumulative[:, :-1]).sum(axis=1)
        return self.label_booster_.classes_[picks]

    def _residuals(self, residual_bands: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A cross-fitted real residual per row, from the rows of its prediction's band."""
        noise = np.zeros(len(residual_bands))
        for band, residuals in enumerate(self.residuals_):
            inside = np.flatnonzero(residual_bands == band)
            if len(inside) and len(residuals):
                noise[inside] = residuals[rng.integers(0, len(residuals), len(inside))]
        return noise

    def _generate(self, count: int, syn_schema: Schema, **kwargs: Any) -> DataLoader:
        return self._safe_generate(self._sample, count, syn_schema)


plugin = CartPlugin
