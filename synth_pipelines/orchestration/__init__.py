"""The thin Dagster layer: assets, checks and resources that call core/."""
