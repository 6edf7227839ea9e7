"""synthcity's strict generation without its duplicate dropping, for every plugin the pipeline loads.

synthcity 0.2.12's `Plugin._safe_generate` draws batches until it has the rows asked for and, in strict
mode (every plugin's default), filters each batch against the training schema (ranges, codes) and then
drops the batch's duplicate rows. On a table whose real rows repeat (a few coded answers per person) the
common rows are the duplicates, so every share came out skewed (AER's Fertility: 47% of real women worked
0 weeks, 9% of synthetic ones; BENCHMARKS.md), and a generator's own repeats (a GAN's mode collapse) were
hidden from the diversity check. The schema filter stays: a torch plugin models a text column of many
categories as a number, and a code past the last one would not decode.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pandas as pd
from synthcity.plugins.core.dataloader import DataLoader, create_from_info
from synthcity.plugins.core.schema import Schema


class KeepsDuplicates:
    """Mixin for a synthcity Plugin: its `_safe_generate` minus `drop_duplicates`."""

    def _safe_generate(self, gen_cbk: Callable, count: int, syn_schema: Schema, **kwargs: Any) -> DataLoader:
        schema, constraints = self.training_schema(), syn_schema.as_constraints()
        kept, total = [], 0
        for _ in range(self.sampling_patience):
            rows = pd.DataFrame(gen_cbk(count, **kwargs), columns=schema.features())
            for column in syn_schema.protected_cols:  # as synthcity: a protected column is drawn from its domain
                if column not in rows.columns:
                    rows[column] = syn_schema.domain[column].sample(count)
            rows = schema.adapt_dtypes(rows)
            rows = constraints.match(rows) if self.strict else rows
            kept.append(rows)
            total += len(rows)
            if total >= count:
                break
        return create_from_info(schema.adapt_dtypes(pd.concat(kept, ignore_index=True)).head(count), self.data_info)


@cache
def keeping_duplicates(plugin_class: type) -> type:
    """`plugin_class` with KeepsDuplicates' generation (one class per plugin; pickled by value, as it
    is made here rather than imported)."""
    if issubclass(plugin_class, KeepsDuplicates):
        return plugin_class
    return type(plugin_class.__name__, (KeepsDuplicates, plugin_class), {"__doc__": plugin_class.__doc__})
