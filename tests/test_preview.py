"""`overheard preview`: a query tried on the warehouse shows its platform forms, counts and matches."""

from __future__ import annotations

from pathlib import Path

from cli.main import main as overheard
from cli.preview import preview_query
from tests.test_warehouse import FIRST_RUN, WINDOW, stage_run
from warehouse.load import load_run


def test_preview_shows_the_platform_queries_and_what_matches(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))

    report = preview_query(config.warehouse.path, 'Brightwave NEAR/3 (furious OR down*) AND NOT site:brightwave.example')

    assert report.splitlines()[:6] == [
        "Query:   (Brightwave NEAR/3 (furious OR down*)) AND NOT site:brightwave.example",
        "X:       Brightwave",
        "Reddit:  Brightwave",
        "",
        "Matches 1 of 3 mentions in the warehouse (news 1)",
        "  2026-11-02 08:00  news       Outage",
    ]
    assert 'https://techwire.example/outage?utm_medium=rss  terms: ["Brightwave", "down*", "furious"]' in report


def test_preview_of_a_configured_brand_and_of_a_bad_query(config, tmp_path: Path, capsys):
    path = tmp_path / "overheard.yaml"
    path.write_text(
        f"warehouse: {{path: {config.warehouse.path}}}\nstaging: s\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        "sources: [{kind: rss, name: techwire, url: 'https://techwire.example/feed'}]\n",
        encoding="utf-8",
    )
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))

    assert overheard(["preview", "--config", str(path), "--brand", "brightwave"]) == 0
    assert "Matches 3 of 3 mentions in the warehouse (news 3)" in capsys.readouterr().out
    assert overheard(["preview", "--config", str(path), "--query", "Brightwave OR"]) == 2
    assert capsys.readouterr().err.startswith('query error at column 14: expected a term or "(" after OR, found end of query')
