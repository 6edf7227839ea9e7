"""Pipeline stages as plain functions: no Dagster import anywhere under core/."""
