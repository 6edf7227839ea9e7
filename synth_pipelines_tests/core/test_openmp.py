"""scikit-learn's OpenMP models run on one thread inside the stages that fit them (core/openmp.py)."""

import pytest
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from synth_pipelines.core import openmp
from synth_pipelines.core.quality import fidelity, privacy, utility
from synth_pipelines.generators.plugin_cart import CartPlugin


def test_a_wrapped_function_sees_one_openmp_thread_and_the_limit_is_lifted_after():
    before = _openmp_effective_n_threads()
    assert openmp.one_openmp_thread(_openmp_effective_n_threads)() == 1
    assert _openmp_effective_n_threads() == before


@pytest.mark.parametrize("function", [CartPlugin._fit, CartPlugin._sample, fidelity.discriminator_auc,
                                      utility.holdout_predictions, privacy._nearest_rows],
                         ids=lambda f: f.__qualname__)
def test_every_function_that_fits_or_applies_a_model_is_limited(function):
    # threadpoolctl's wrap keeps the function as __wrapped__: a function without it runs on every thread
    assert getattr(function, "__wrapped__", None) is not None
