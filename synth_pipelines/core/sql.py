"""Small helpers for composing DuckDB SQL safely."""

from pathlib import Path


def quote_literal(value: str | Path) -> str:
    """A SQL string literal (DuckDB cannot bind parameters inside CREATE VIEW or COPY)."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
