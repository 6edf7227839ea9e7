"""Adversarial random forests (arfpy) as a synthcity plugin; replaces synthcity's `arf` here.

synthcity 0.2.12's `arf` hands arfpy the label-encoded frame and marks as categorical only columns
with at most 10 distinct values, so a text column with more categories (a country, an occupation)
reaches arfpy as integers and is sampled as a number: on a 3,000-row Adult run `native_country`
came out 25% United-States against 89% real. It also re-fits FORDE, arfpy's density estimate, on
every `generate` call, which the pipeline makes once per batch. Here every column synthcity
label-encoded (a text column of the view) is a category for arfpy, as are numeric columns with at
most `categorical_max_values` distinct values, and FORDE is fitted once, after the forest. Generated
rows outside the training ranges are drawn again as synthcity's strict mode does (arfpy's leaf
densities reach past them: ages 19-39 for real 21-35), but duplicate rows are kept (keep_duplicates.py:
strict mode also drops each batch's duplicates, which skewed every share on a table whose real rows
repeat: a census extract of 8 mostly yes/no columns, 5% of real women of one group, 11% of synthetic ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from arfpy import arf
from synthcity.plugins.core.dataloader import DataLoader
from synthcity.plugins.core.schema import Schema
from synthcity.plugins.generic.plugin_arf import ARFPlugin as SynthcityARFPlugin
from synthcity.utils.constants import DEVICE

from synth_pipelines.generators.keep_duplicates import KeepsDuplicates


class ARFPlugin(KeepsDuplicates, SynthcityARFPlugin):
    """Adversarial random forest (Watson et al., AISTATS 2023) with FORDE density estimation.

    Args:
        num_trees, delta, max_iters, early_stop, min_node_size: arfpy's arguments.
        categorical_max_values: numeric columns with at most this many distinct values are categories.
        alpha: pseudocount smoothing arfpy's categorical leaf distributions.
    """

    def __init__(
        self,
        num_trees: int = 30,
        delta: int = 0,
        max_iters: int = 10,
        early_stop: bool = True,
        verbose: bool = False,
        min_node_size: int = 5,
        categorical_max_values: int = 10,
        alpha: float = 0.0,
        device: Any = DEVICE,
        random_state: int = 0,
        sampling_patience: int = 500,
        workspace: Path = Path("workspace"),
        compress_dataset: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_trees=num_trees, delta=delta, max_iters=max_iters, early_stop=early_stop,
                         verbose=verbose, min_node_size=min_node_size, device=device, random_state=random_state,
                         sampling_patience=sampling_patience, workspace=workspace,
                         compress_dataset=compress_dataset, **kwargs)
        self.categorical_max_values = categorical_max_values
        self.alpha = alpha

    def _fit(self, X: DataLoader, *args: Any, **kwargs: Any) -> "ARFPlugin":
        if kwargs.get("cond") is not None:
            raise NotImplementedError("the arf plugin has no conditional generation")
        frame = X.dataframe().copy()
        encoded = set(getattr(self, "_data_encoders", None) or {})
        self._categories = [c for c in frame.columns
                            if c in encoded or frame[c].nunique() <= self.categorical_max_values]
        self._dtypes = frame.dtypes
        for column in self._categories:
            frame[column] = frame[column].astype(object)
        self.model = arf.arf(x=frame, num_trees=self.num_trees, delta=self.delta, max_iters=self.max_iters,
                             early_stop=self.early_stop, verbose=self.verbose, min_node_size=self.min_node_size)
        self.model.forde(alpha=self.alpha)
        return self

    def _forge(self, count: int) -> pd.DataFrame:
        rows = pd.DataFrame(self.model.forge(n=count))
        return rows.astype({c: self._dtypes[c] for c in self._categories})

    def _generate(self, count: int, syn_schema: Schema, **kwargs: Any) -> pd.DataFrame:
        if kwargs.get("cond") is not None:
            raise NotImplementedError("the arf plugin has no conditional generation")
        return self._safe_generate(self._forge, count, syn_schema)


plugin = ARFPlugin
