"""Which Dagster executor runs a code location's steps: Dagster's default (a process per step),
dagster-celery when SYNTH_PIPELINES_EXECUTOR=celery, with the settings of deploy/celery/celery.yaml
(the file the workers start with, so both sides agree), or dagster-k8s's k8s_job_executor (=k8s). Both
need SynthStorage in a bucket (SYNTH_PIPELINES_STORAGE=s3://...): their workers share no disk."""

import os
from pathlib import Path

import dagster as dg
import yaml

from synth_pipelines.paths import project_root


def celery_config(path: Path | None = None) -> dict:
    path = path or Path(os.environ.get("SYNTH_PIPELINES_CELERY_CONFIG", project_root() / "deploy" / "celery" / "celery.yaml"))
    return yaml.safe_load(path.read_text())["execution"]["config"]


def executor_from_env() -> dg.ExecutorDefinition | None:
    kind = os.environ.get("SYNTH_PIPELINES_EXECUTOR", "")
    if not kind:
        return None
    if kind == "k8s":  # a pod per step; configured by the Helm chart's runK8sConfig (deploy/k8s/values.yaml)
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError:
            raise ValueError("SYNTH_PIPELINES_EXECUTOR=k8s needs dagster-k8s==0.29.27 installed in the image "
                             "(deploy/README.md)") from None
        return k8s_job_executor
    if kind != "celery":
        raise ValueError(f"SYNTH_PIPELINES_EXECUTOR={kind!r}: use 'celery' or 'k8s', or unset it for Dagster's "
                         "default executor")
    from dagster_celery import celery_executor  # only deployments that use Celery import it

    return celery_executor.configured(celery_config(), name="synth_celery_executor")
