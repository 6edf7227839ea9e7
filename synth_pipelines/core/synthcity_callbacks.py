"""synthcity objects built from the plain descriptions in resolved plugin kwargs (generator_settings).

Imports synthcity: only `train_synthesizer` uses this module, after the plugin was chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from synthcity.metrics.weighted_metrics import WeightedMetrics
from synthcity.utils.callbacks import Callback, EarlyStopping

log = logging.getLogger("synth_pipelines.synthcity")


class EpochProgress(Callback):
    """ddpm logs no per-epoch line itself: log epoch, loss (and validation score) every `every` epochs."""

    def __init__(self, every: int) -> None:
        self.every, self.epoch = every, 0

    def on_fit_begin(self, model: Any) -> None:
        self.epoch = 0

    def on_epoch_begin(self, model: Any) -> None:
        pass

    def on_epoch_end(self, model: Any) -> None:
        self.epoch += 1
        if self.epoch % self.every == 0 or self.epoch == model.n_iter:
            loss = model.loss_history[-1][-1] if model.loss_history else float("nan")
            score = "" if model.valid_score is None else f" validation score: {model.valid_score:.5f}"
            log.info("[%d/%d] Loss: %.5f%s", self.epoch, model.n_iter, loss, score)

    def on_fit_end(self, model: Any) -> None:
        pass


class RelativeEarlyStopping(EarlyStopping):
    """synthcity's EarlyStopping, where a new score counts as better only by `min_relative_improvement`."""

    def __init__(self, patience: int, min_epochs: int, min_relative_improvement: float) -> None:
        super().__init__(patience=patience, min_epochs=min_epochs)
        self.min_relative_improvement = min_relative_improvement

    def on_epoch_end(self, model: Any) -> None:
        super().on_epoch_end(model)
        if model.should_stop:
            log.info("[%d/%d] Early stopping: no improvement in %d epochs", self._epochs, model.n_iter, self.wait)

    def _evaluate_patience_metric(self, model: Any) -> None:
        new_score, best = model.valid_score, self.best_score
        if best is not None:
            margin = abs(best) * self.min_relative_improvement
            better = new_score < best - margin if model.metric_direction == "minimize" else new_score > best + margin
            if not better:
                self.wait += 1
                return
        self.wait, self.best_score, self.best_epoch = 0, new_score, self._epochs
        self._save_best_model(model)


def build_plugin_objects(kwargs: dict[str, Any], workspace: Path) -> dict[str, Any]:
    """Replace ddpm's described `callbacks` and `validation_metric` by the synthcity objects."""
    built = dict(kwargs)
    if "validation_metric" in kwargs:
        built["validation_metric"] = WeightedMetrics(metrics=[tuple(kwargs["validation_metric"]["metric"])],
                                                     weights=[1], workspace=workspace)
    if "callbacks" in kwargs:
        built["callbacks"] = [
            EpochProgress(c["every"]) if c["kind"] == "progress" else
            RelativeEarlyStopping(c["patience"], c["min_epochs"], c["min_relative_improvement"])
            for c in kwargs["callbacks"]]
    return built
