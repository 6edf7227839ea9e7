"""Result types shared by every quality module.

A `Metric` is one measured number with the library call that computed it; a check gates some of
its metrics with a threshold (`bound` "min": value must be >= threshold, "max": <=, "info": not
gated, shown to the reviewer only). A `QualityCheck` passes when all its gated metrics pass, and
its summary names every failed metric, so a reviewer never has to dig for the reason.

A statistic of a group of real rows (a protected group's label rate, a real category share) carries
the group's size as `real_rows`: a field of its record, or a value -> rows mapping beside `real_*`
mappings of the same values. The published report leaves out every group below report.MIN_CELL_ROWS.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Bound = Literal["min", "max", "info"]
STANDARD_ERRORS = 3.0  # how far chance may move a sampled estimate before a threshold counts it


def widened_threshold(threshold: float, ideal: float, standard_error: float, bound: Bound) -> float:
    """`threshold`, or STANDARD_ERRORS standard errors from the `ideal` value where the estimate is
    noisier than that: a value the ideal generator reaches by chance never fails."""
    if bound == "max":
        return max(threshold, ideal + STANDARD_ERRORS * standard_error)
    return min(threshold, ideal - STANDARD_ERRORS * standard_error)


def few_replicates_scale(replicates: int) -> float:
    """A bootstrap spread from few replicates is itself uncertain: the factor that takes STANDARD_ERRORS of it to
    Student's t with replicates - 1 degrees of freedom at the same one-sided chance (4.09 / 3 for 10)."""
    from scipy.stats import norm, t

    return float(t.ppf(norm.cdf(STANDARD_ERRORS), replicates - 1) / STANDARD_ERRORS)


@dataclass
class Metric:
    name: str
    value: float | None
    implementation: str
    details: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    bound: Bound = "info"
    hint: str = ""  # shown when the metric fails: where to look, e.g. the columns that gave it away

    def gate(self, threshold: float, bound: Bound) -> Metric:
        return replace(self, threshold=threshold, bound=bound)

    @property
    def passed(self) -> bool:
        if self.bound == "info":
            return True
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return False  # an unmeasurable gated metric is a failure, never a silent pass
        return self.value >= self.threshold if self.bound == "min" else self.value <= self.threshold

    def describe(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:.4g}"
        if self.bound == "info":
            return f"{self.name}={value}"
        return f"{self.name}={value} ({self.bound} {self.threshold:.4g})"


@dataclass
class QualityCheck:
    """One gate of the release. `value`/`threshold`/`implementation` are those of the headline metric."""

    name: str
    metrics: list[Metric]
    blocking: bool = True
    note: str = ""  # why a check did not apply, e.g. "no protected columns declared"

    @property
    def headline(self) -> Metric | None:
        return self.metrics[0] if self.metrics else None

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.metrics)

    @property
    def failed_metrics(self) -> list[Metric]:
        return [m for m in self.metrics if not m.passed]

    @property
    def value(self) -> float | None:
        return self.headline.value if self.headline else None

    @property
    def threshold(self) -> float | None:
        return self.headline.threshold if self.headline else None

    @property
    def implementation(self) -> str:
        return "; ".join(dict.fromkeys(m.implementation for m in self.metrics)) or "none"

    @property
    def summary(self) -> str:
        if self.note and not self.metrics:
            return self.note
        if self.passed:
            return "passed: " + ", ".join(m.describe() for m in self.metrics)
        return "FAILED: " + "; ".join(f"{m.describe()} [{m.implementation}]" + (f" {m.hint}" if m.hint else "")
                                      for m in self.failed_metrics)

    @property
    def details(self) -> dict[str, Any]:
        return {m.name: {**m.details, "value": m.value, "threshold": m.threshold, "bound": m.bound,
                         "passed": m.passed, "implementation": m.implementation} for m in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "blocking": self.blocking, "value": self.value,
                "threshold": self.threshold, "summary": self.summary, "implementation": self.implementation,
                "note": self.note, "metrics": [asdict(m) | {"passed": m.passed} for m in self.metrics]}


@dataclass
class QualityReport:
    checks: list[QualityCheck]
    settings: dict[str, Any] = field(default_factory=dict)  # thresholds and sample sizes actually used
    seconds: dict[str, float] = field(default_factory=dict)
    # Frames and arrays for the HTML/PDF report (PhiK matrices, DCR distances); not serialized.
    artifacts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.blocking)

    def check(self, name: str) -> QualityCheck:
        return next(c for c in self.checks if c.name == name)

    @property
    def failed(self) -> list[str]:
        """Names of failed checks, with the failed metric names: ['privacy_dcr: dcr_share', ...]."""
        return [f"{c.name}: {m.name}" for c in self.checks for m in c.failed_metrics]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "checks": [c.to_dict() for c in self.checks],
                "settings": self.settings, "seconds": self.seconds}
