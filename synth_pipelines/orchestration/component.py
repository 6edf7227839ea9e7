"""`synth_pipelines.SyntheticDataset`: a dataset as a dg component, one `defs.yaml` per dataset.

The component's attributes are the dataset spec. Dagster only checks that they are a mapping; the
spec model (spec.DatasetSpec) validates them after `${VAR}` interpolation, as it does for a plain
spec file, so a bad defs.yaml fails with the same error: the file, the field and the fix.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from synth_pipelines.orchestration.code_location import dataset_definitions
from synth_pipelines.paths import demo_spec
from synth_pipelines.spec import LoadedSpec, SpecError, as_component_file, load_spec, spec_from_data


class SpecAttributes(BaseModel):
    """Any mapping: the fields are checked by the spec model, whose errors name file, field and fix
    (pydantic's here would name neither the spec's fix nor survive `${VAR}` values)."""

    model_config = ConfigDict(extra="allow")


class ScaffoldParams(BaseModel):
    spec: str | None = Field(None, description="A plain spec file to migrate into the new defs.yaml "
                                               "(comments kept); without it, the demo spec is the template.")


class DatasetScaffolder(dg.Scaffolder[ScaffoldParams]):
    """`dg scaffold defs synth_pipelines.SyntheticDataset datasets/<name> [--spec plain.yaml]`."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldParams]:
        return ScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ScaffoldParams]) -> None:
        target = Path(request.target_path)
        if request.params.spec:
            source = Path(request.params.spec)
            load_spec(source)  # only a valid spec is migrated; its error names the field and the fix
            text = as_component_file(source.read_text())
        else:  # a copy of the demo, named after its folder
            text = demo_spec().read_text().replace("  dataset: demo_loans\n", f"  dataset: {target.name}\n", 1)
        target.mkdir(parents=True, exist_ok=True)
        (target / "defs.yaml").write_text(text)


@dg.scaffold_with(DatasetScaffolder)
class SyntheticDataset(dg.Component):
    """A synthetic feature dataset, built from the dataset spec in its attributes.

    Every stage is an asset (source snapshot, training view, train/holdout split, synthesizer,
    synthetic rows and features, the release), with nine QA checks gating the release, a scheduled
    refresh (a cron sensor), the publication gate and a source-change sensor, all named after the dataset. The
    attributes are the spec's fields (README: "Point a spec at your own database")."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return SpecAttributes

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> SyntheticDataset:
        path = component_file(context)
        if attributes is None:
            raise SpecError(f"{path}: attributes: missing. Fix: put the dataset spec under attributes:")
        return cls(spec_from_data(attributes.model_dump(), path))

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dataset_definitions(self.loaded)


def component_file(context: dg.ComponentLoadContext) -> Path:
    """The defs.yaml a component was declared in (errors name it)."""
    path = Path(context.path)
    return path / "defs.yaml" if path.is_dir() else path
