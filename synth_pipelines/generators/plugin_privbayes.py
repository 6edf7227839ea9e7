"""PrivBayes (Zhang et al., TODS 2017) as a synthcity plugin; replaces synthcity's `privbayes` here.

Why not synthcity's own (0.2.12): reading its source while benchmarking on UCI Adult showed that
- it adds Laplace noise of scale 2(d-K)/(n*epsilon) to raw counts, the scale meant for
  probabilities: on Adult at epsilon 1 that is noise of ~0.001 on counts in the thousands, so the
  conditionals are effectively exact and the run is not epsilon-DP;
- it spends the whole epsilon twice (once choosing the network, once on the conditionals);
- it never bins numeric columns (the test is inverted), so every distinct value of a weight or an
  income is a category: on 1,500 Adult rows the conditional table of `fnlwgt` asked for 75.7 GiB;
- the parent count K comes from an `fsolve` that silently returns its start value (K = 7 on Adult),
  and noise is only added to combinations present in the data (absent ones reveal their absence).

Here, following the paper: epsilon is split, `STRUCTURE_SHARE` of it for choosing the network
(exponential mechanism on mutual information, sensitivity of Lemma 4.1 in nats) and the rest for
the conditionals; every node's joint table (parents and child) gets Laplace noise over its whole
domain with scale 2*d/epsilon_2 on counts (d tables, L1 sensitivity 2 each when one row changes);
a parent set is only a candidate when its table is theta-useful (Section 4.5: average count per
cell over the noise scale >= `target_usefulness`), so small budgets give sparse networks instead of
noise-filled ones. Numeric columns with at least `n_bins` distinct values are cut into `n_bins`
equal-width bins and decode to a uniform value in the bin (rounded for integer columns).

The guarantee holds under these assumptions (core/differential_privacy.py states them for the manifest):
- replace-one neighbours: two train sets of the same size differing in one row (n is public: the
  structure search, the usefulness bound and the sensitivities use it);
- a public domain, given as `domain` (the pipeline builds it from the spec's `generator.domain`):
  every column's value labels, or bounds for a numeric column, which is then always cut into
  equal-width bins between them (at most one bin per whole number), values outside clipped. With
  `domain`, synthcity's own label encoding (classes read from the rows) and its schema filters are
  bypassed. Without `domain` (direct use of the plugin, never by the pipeline) the categories,
  bin edges and the choice to bin are read from the rows, and the output is not DP;
- secret randomness: the root choice, the exponential mechanism and the Laplace noise draw from a
  generator seeded by `secrets.randbits(128)`, created in `fit` and deleted after it (its state could
  be wound back to the noise). `random_state` seeds only sampling and decoding (post-processing), so
  two fits with the same seed give different models and rows.
Sampling uses pgmpy, as synthcity does.
"""

from __future__ import annotations

import secrets
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pgmpy.factors.discrete.CPD import TabularCPD
from sklearn.metrics import mutual_info_score
from sklearn.preprocessing import LabelEncoder
from synthcity.plugins.core.dataloader import DataLoader, GenericDataLoader, create_from_info
from synthcity.utils.reproducibility import enable_reproducible_results
from synthcity.plugins.privacy.plugin_privbayes import PrivBayes
from synthcity.plugins.privacy.plugin_privbayes import PrivBayesPlugin as SynthcityPrivBayesPlugin

# Share of epsilon spent on the network structure; the paper's experiments settle on 0.3.
STRUCTURE_SHARE = 0.3
# More parents per node make the candidate search combinatorial for little gain under DP noise;
# wide tables get fewer (C(59, 3) parent sets per column would take tens of minutes).
MAX_PARENTS, WIDE_TABLE_COLUMNS, WIDE_TABLE_MAX_PARENTS = 3, 30, 2


class _PrivBayes(PrivBayes):
    def __init__(self, *, seed: int, epsilon: float, categorical: set[str],
                 domain: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(epsilon=epsilon, **kwargs)
        self.epsilon = epsilon  # synthcity halves it here (its two stages each spent the whole of it)
        self.categorical = categorical
        self.domain = domain
        self.rng = np.random.default_rng(seed)  # public: sampling and decoding only (post-processing)

    def fit(self, data: pd.DataFrame) -> Any:
        # The mechanism's randomness: secret, never stored (deleted before the model is pickled).
        self.noise = np.random.default_rng(secrets.randbits(128))
        try:
            return super().fit(data)
        finally:
            del self.noise

    @property
    def _epsilon_structure(self) -> float:
        return STRUCTURE_SHARE * self.epsilon

    @property
    def _epsilon_conditionals(self) -> float:
        return (1 - STRUCTURE_SHARE) * self.epsilon

    def _encode(self, data: pd.DataFrame) -> Any:
        if self.domain is not None:
            return self._encode_declared(data)
        codes = pd.DataFrame(index=data.index)
        encoders: dict[str, dict[str, Any]] = {}
        for col in data.columns:
            values = data[col]
            col = str(col)
            # synthcity label-encodes text columns before the plugin sees them: those stay categories.
            if (col not in self.categorical and pd.api.types.is_numeric_dtype(values)
                    and values.nunique() >= self.n_bins):
                edges = np.linspace(values.min(), values.max(), self.n_bins + 1)
                binned = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, self.n_bins - 1)
                binned[values.isna().to_numpy()] = self.n_bins  # missing is a state of its own
                is_integer = pd.api.types.is_integer_dtype(values) or bool((values.dropna() % 1 == 0).all())
                encoders[col] = {"type": "binned", "edges": edges, "integer": is_integer,
                                 "states": self.n_bins + int(values.isna().any())}
                codes[col] = binned
            else:
                model = LabelEncoder().fit(values)
                encoders[col] = {"type": "categorical", "model": model, "states": len(model.classes_)}
                codes[col] = model.transform(values)
        return codes, encoders

    def _encode_declared(self, data: pd.DataFrame) -> Any:
        """Codes over the declared domain only: every declared value is a state whether or not a row
        holds it, numbers are clipped to the declared bounds and always binned."""
        codes = pd.DataFrame(index=data.index)
        encoders: dict[str, dict[str, Any]] = {}
        unknown = sorted(set(map(str, data.columns)) - set(self.domain))
        if unknown:
            raise ValueError(f"privbayes: no declared domain for columns {unknown}")
        for col in data.columns:
            declared = self.domain[str(col)]
            if "values" in declared:
                index = {value: i for i, value in enumerate(declared["values"])}
                mapped = data[col].map(index)
                if mapped.isna().any():
                    raise ValueError(f"privbayes: column '{col}' holds values outside its declared domain")
                encoders[str(col)] = {"type": "declared", "values": list(declared["values"]), "states": len(index)}
                codes[col] = mapped.astype(int).to_numpy()
                continue
            low, high = (float(b) for b in declared["bounds"])
            if declared.get("integer"):
                bins = int(min(self.n_bins, np.floor(high) - np.ceil(low) + 1))
                edges = np.linspace(np.ceil(low) - 0.5, np.floor(high) + 0.5, bins + 1)
            else:
                bins = self.n_bins
                edges = np.linspace(low, high, bins + 1)
            values = np.clip(pd.to_numeric(data[col]).to_numpy(dtype=float), low, high)
            codes[col] = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
            encoders[str(col)] = {"type": "binned", "edges": edges, "integer": bool(declared.get("integer")),
                                  "bounds": (low, high), "states": bins}
        return codes, encoders

    def _decode(self, data: pd.DataFrame) -> pd.DataFrame:
        for col in data.columns:
            encoder = self.encoders[col]
            codes = data[col].to_numpy(dtype=int)
            if encoder["type"] == "categorical":
                data[col] = encoder["model"].inverse_transform(codes)
                continue
            if encoder["type"] == "declared":
                data[col] = pd.Series(np.asarray(encoder["values"], dtype=object)[codes], index=data.index)
                continue
            edges = encoder["edges"]
            top = len(edges) - 2
            bins = np.minimum(codes, top)
            values = self.rng.uniform(edges[bins], edges[bins + 1])
            low, high = encoder.get("bounds", (edges[0], edges[-1]))
            if encoder["integer"]:
                values = np.round(values)
            values = np.clip(values, low, high)
            data[col] = np.where(codes > top, np.nan, values)
        return data

    def _states(self, column: str) -> int:
        return self.encoders[column]["states"]

    def _joint_index(self, data: pd.DataFrame, columns: list[str]) -> np.ndarray:
        """Mixed-radix index of each row's states over `columns` (the first column varies slowest)."""
        index = np.zeros(len(data), dtype=np.int64)
        for column in columns:
            index = index * self._states(column) + data[column].to_numpy(dtype=np.int64)
        return index

    def _compute_K(self, data: pd.DataFrame) -> int:
        """Largest k with theta-useful binary tables (PrivBayes Section 4.5), at most MAX_PARENTS."""
        rows, d = data.shape
        limit = MAX_PARENTS if d <= WIDE_TABLE_COLUMNS else WIDE_TABLE_MAX_PARENTS
        useful = [k for k in range(1, min(limit, d - 1) + 1)
                  if rows * self._epsilon_conditionals / ((d - k) * 2 ** (k + 3)) >= self.target_usefulness]
        return max(useful, default=1)

    def _max_cells(self, rows: int, d: int) -> float:
        """Cells a theta-useful joint table may have: rows / cells >= theta * (noise scale 2d/eps2)."""
        return rows * self._epsilon_conditionals / (2 * d * self.target_usefulness)

    def _sensitivity(self, rows: int, binary: bool) -> float:
        """Sensitivity of mutual information in nats (PrivBayes Lemma 4.1)."""
        if binary:
            return np.log(rows) / rows + (rows - 1) / rows * np.log(rows / (rows - 1))
        return 2 / rows * np.log((rows + 1) / 2) + (1 - 1 / rows) * np.log(1 + 2 / (rows - 1))

    def _greedy_bayes(self, data: pd.DataFrame) -> list:
        if self.K == 0:
            self.K = self._compute_K(data)
        rows, d = data.shape
        max_cells = self._max_cells(rows, d)
        columns = list(data.columns)
        binary = {c: self._states(c) <= 2 for c in columns}
        root = columns[self.noise.integers(d)]
        network, selected = [(root, [])], [root]
        while len(selected) < d:
            options: list[tuple[str, list[str]]] = []
            scores: list[float] = []
            for child in (c for c in columns if c not in selected):
                for parents in self._parent_sets(child, selected, max_cells):
                    options.append((child, parents))
                    scores.append(self._mutual_information(data, child, parents))
            sensitivity = np.array([self._sensitivity(rows, binary[c] or (len(p) == 1 and binary[p[0]]))
                                    for c, p in options])
            # Exponential mechanism: each of the d-1 choices spends epsilon_structure / (d-1).
            logits = np.array(scores) * self._epsilon_structure / (2 * (d - 1) * sensitivity)
            weights = np.exp(logits - logits.max())
            child, parents = options[self.noise.choice(len(options), p=weights / weights.sum())]
            network.append((child, parents))
            selected.append(child)
        return network

    def _parent_sets(self, child: str, selected: list[str], max_cells: float) -> list[list[str]]:
        """The largest parent sets (up to K) whose joint table with the child is theta-useful; else []."""
        for size in range(min(self.K, len(selected)), 0, -1):
            fitting = [list(p) for p in combinations(selected, size)
                       if self._states(child) * np.prod([self._states(c) for c in p]) <= max_cells]
            if fitting:
                return fitting
        return [[]]

    def _mutual_information(self, data: pd.DataFrame, child: str, parents: list[str]) -> float:
        if not parents:
            return 0.0
        key = (child, tuple(sorted(parents)))
        if key not in self.mi_cache:
            self.mi_cache[key] = mutual_info_score(self._joint_index(data, parents), data[child].to_numpy())
        return self.mi_cache[key]

    def _compute_noisy_conditional_distributions(self, data: pd.DataFrame) -> list:
        d = data.shape[1]
        scale = 2 * d / self._epsilon_conditionals
        cpds = []
        for child, parents in self.dag:
            shape = [self._states(c) for c in parents + [child]]
            counts = np.bincount(self._joint_index(data, parents + [child]), minlength=int(np.prod(shape)))
            noisy = np.clip(counts + self.noise.laplace(0, scale, size=counts.size), 0, None)
            table = noisy.reshape(-1, shape[-1]).T  # child states x parent configurations
            totals = table.sum(axis=0, keepdims=True)
            table = np.where(totals > 0, table / np.where(totals > 0, totals, 1), 1 / shape[-1])
            cpds.append(TabularCPD(variable=child, variable_card=shape[-1], values=table,
                                   evidence=parents or None, evidence_card=shape[:-1] or None))
        return cpds


class PrivBayesPlugin(SynthcityPrivBayesPlugin):
    """PrivBayes: epsilon-DP Bayesian network synthesis (see the module docstring).

    Args:
        epsilon: the privacy budget (the pipeline sets it from the spec's typed `epsilon`).
        K: parents per node at most; 0 = from epsilon and the data size (at most MAX_PARENTS).
        n_bins: equal-width bins for numeric columns with at least this many distinct values.
        target_usefulness: theta, the average count per cell over the noise scale a table needs.
        strict: synthcity's per-round duplicate dropping and domain filter; off by default, because
            dropping duplicates of a discrete model's draws skews its shares, and every draw is in
            the domain by construction. Refused with `domain` (it filters on ranges read from the rows).
        domain: the public domain of every column of the encoded frame (the pipeline passes
            differential_privacy.plugin_domain): {"values": [...]} or {"bounds": [lo, hi], "integer": bool}.
            Needed for the DP guarantee; see the module docstring.
    (synthcity's mi_thresh is not offered: it tested the exact mutual information of the chosen
    parents, a data-dependent decision no budget pays for.)
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        K: int = 0,
        n_bins: int = 20,
        target_usefulness: int = 5,
        strict: bool = False,
        random_state: int = 0,
        workspace: Path = Path("workspace"),
        compress_dataset: bool = False,
        sampling_patience: int = 500,
        domain: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        if domain is not None and (compress_dataset or strict):
            raise ValueError("privbayes: compress_dataset and strict read the real rows outside the DP mechanism; "
                             "they are refused with a declared domain")
        self.domain = domain
        super().__init__(epsilon=epsilon, K=K, n_bins=n_bins, target_usefulness=target_usefulness, strict=strict,
                         random_state=random_state, workspace=workspace, compress_dataset=compress_dataset,
                         sampling_patience=sampling_patience, **kwargs)

    def fit(self, X: Any, *args: Any, **kwargs: Any) -> "PrivBayesPlugin":
        """With a declared domain, synthcity's label encoding (classes read from the rows) and its schema
        of the rows (value counts, ranges) are skipped: the frame reaches the mechanism as it is and is
        encoded over the domain alone."""
        if self.domain is None:
            return super().fit(X, *args, **kwargs)
        if isinstance(X, pd.DataFrame):
            X = GenericDataLoader(X)
        self.data_info = X.info()
        self._columns = list(X.dataframe().columns)
        self._data_encoders = None
        self._fit(X, *args, **kwargs)
        self.fitted = True
        return self

    def generate(self, count: int | None = None, constraints: Any = None, random_state: int | None = None,
                 **kwargs: Any) -> DataLoader:
        """With a declared domain: `count` rows sampled from the noisy network (post-processing; seeded
        by `random_state`), without synthcity's schema of the real rows."""
        if random_state is not None:  # decoding's draws within a bin follow the seed too
            self.model.rng = np.random.default_rng(random_state)
        if self.domain is None:
            return super().generate(count=count, constraints=constraints, random_state=random_state, **kwargs)
        if constraints is not None:
            raise ValueError("privbayes: constraints are not supported with a declared domain")
        enable_reproducible_results(self.random_state if random_state is None else random_state)
        rows = self.model.sample(count if count is not None else self.data_info["len"])
        return create_from_info(rows[self._columns].reset_index(drop=True), self.data_info)

    def _fit(self, X: DataLoader, *args: Any, **kwargs: Any) -> "PrivBayesPlugin":
        self.model = _PrivBayes(seed=self.random_state, epsilon=self.epsilon, K=self.K, n_bins=self.n_bins,
                                target_usefulness=self.target_usefulness, domain=self.domain,
                                categorical={str(c) for c in (getattr(self, "_data_encoders", None) or {})})
        self.model.fit(X.dataframe())
        self.model.mi_cache = {}  # exact statistics of the real rows; sampling does not need them
        return self


plugin = PrivBayesPlugin
