"""scikit-learn's OpenMP models (gradient boosting, nearest neighbours) run on one thread.

Why: the package sets OMP_WAIT_POLICY=PASSIVE (synth_pipelines/__init__.py) so OpenMP threads that
wait do not starve each other on a busy machine, but a passive thread sleeps between parallel regions
and gradient boosting opens several per tree: on an idle 2-core machine a 10,000-row
HistGradientBoosting fit took 3.3 s on two passive threads against 0.4 s on one (0.3 s on two
spinning threads, which take 3.0 s instead when the cores are busy). One thread was the fastest or
within 1.6x of it at every size measured (2,000 to 200,000 rows, idle and loaded); the tables the
models see here are samples of at most tens of thousands of rows. Measured by bench/openmp_threads.py
(BENCHMARKS.md, "One OpenMP thread").
"""

from threadpoolctl import threadpool_limits

# A decorator: the limit holds while the function runs and is lifted after, so torch's own threads
# (synthcity's neural generators) keep every core.
one_openmp_thread = threadpool_limits.wrap(limits=1, user_api="openmp")
