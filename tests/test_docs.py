"""The docs say what the code does: the data dictionary, the configuration reference, the README."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from config.model import (
    SOURCE_MODELS,
    AppConfig,
    BrandConfig,
    Config,
    HttpSettings,
    ReachSettings,
    ReportSettings,
    SentimentSettings,
    WarehouseSettings,
)
from config.playbook import (
    AlertSettings,
    CalendarConfig,
    CategoryConfig,
    FastLane,
    HandoffRule,
    HelpdeskWebhookSettings,
    Playbook,
    PriorityWeights,
    QueueConfig,
    ReplySettings,
    RoutingRule,
    SpikeConfig,
    ZendeskSettings,
)
from warehouse.connection import open_warehouse
from warehouse.views_reference import views_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = DOCS.parent / "README.md"
_DUCKDB_TYPE_NAMES = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}


def tables_in(markdown: str) -> dict[str, list[list[str]]]:
    """Markdown tables by the heading above them: rows of cells, header and rule dropped."""
    found: dict[str, list[list[str]]] = {}
    heading = ""
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and not set(line) <= set("|-: "):
            found.setdefault(heading, []).append([cell.strip() for cell in line.strip("|").split("|")])
    return {name: rows[1:] for name, rows in found.items()}


def test_data_dictionary_matches_the_schema(tmp_path):
    documented = tables_in((DOCS / "data-dictionary.md").read_text(encoding="utf-8"))
    connection: duckdb.DuckDBPyConnection = open_warehouse(tmp_path / "w.duckdb")
    actual: dict[str, list[list[str]]] = {}
    for table, column, kind in connection.execute(
        """SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_name) WHERE t.table_type = 'BASE TABLE'
           ORDER BY c.table_name, c.ordinal_position"""
    ).fetchall():
        actual.setdefault(table, []).append([column, _DUCKDB_TYPE_NAMES.get(kind, kind)])
    for table, columns in actual.items():
        assert [row[:2] for row in documented.get(table, [])] == columns, f"docs/data-dictionary.md: table {table}"
    markdown = (DOCS / "data-dictionary.md").read_text(encoding="utf-8")
    assert {name for name in re.findall(r"^### (\w+)$", markdown, re.MULTILINE)} == set(actual)


def test_every_view_is_described_and_the_views_page_is_generated_from_the_descriptions(tmp_path):
    connection = open_warehouse(tmp_path / "w.duckdb")
    for view, comment in connection.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall():
        described = [c for (c,) in connection.execute(
            "SELECT comment IS NOT NULL FROM duckdb_columns() WHERE table_name = ?", [view]
        ).fetchall()]
        assert comment, f"view {view} has no COMMENT ON VIEW"
        # Every column described, or none (a view with the columns of a table says so in its own comment).
        assert all(described) or not any(described), f"view {view}: some columns have no COMMENT ON COLUMN"
    assert (DOCS / "views.md").read_text(encoding="utf-8") == views_markdown(connection), (
        "docs/views.md is out of date: run .venv/bin/python -m warehouse.views_reference"
    )


def test_configuration_reference_lists_every_key():
    documented = {
        row[0].strip("`") for rows in tables_in((DOCS / "configuration.md").read_text(encoding="utf-8")).values()
        for row in rows
    }
    expected = (
        (set(Config.model_fields) - {"warehouse"}) | {f"warehouse.{key}" for key in WarehouseSettings.model_fields}
        | set(BrandConfig.model_fields)
        | (set().union(*(kind.model_fields for kind in SOURCE_MODELS)) - {"kind", "name"}) | set(AppConfig.model_fields)
        | set(HttpSettings.model_fields) | set(ReachSettings.model_fields) | set(SentimentSettings.model_fields)
        | set(ReportSettings.model_fields)
        | set().union(*(model.model_fields for model in (
            Playbook, CategoryConfig, QueueConfig, RoutingRule, CalendarConfig, PriorityWeights, SpikeConfig, AlertSettings,
            ZendeskSettings, HelpdeskWebhookSettings, HandoffRule, ReplySettings, FastLane,
        )))
    )
    assert documented == expected


def test_readme_starts_with_the_two_commands():
    opening = README.read_text(encoding="utf-8").split("\n## ")[0]
    assert "make demo" in opening and "make test" in opening
