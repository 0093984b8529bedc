"""`overheard export`: the mentions as Parquet, readable by any Parquet reader."""

from __future__ import annotations

import duckdb
import pytest

from cli.main import main
from tests.test_views import mention
from warehouse.connection import open_warehouse


def test_export_writes_the_chosen_days_mentions_with_their_brands(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    warehouse_path = tmp_path / "w.duckdb"
    config.write_text(
        f"warehouse: {{path: {warehouse_path}}}\nstaging: {tmp_path / 'staging'}\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        "sources: [{kind: rss, name: n, url: 'https://n.example/f'}]\n"
    )
    with open_warehouse(warehouse_path) as connection:
        mention(connection, "x:1", "Brightwave", day=0)
        mention(connection, "x:2", "Brightwave", day=1, owned=True)
        mention(connection, "x:3", "Brightwave", day=5)
        connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES ('x:1', 'Tidewell', 'competitor', ['Tidewell'])")

    assert main(["export", "--config", str(config), "--to", str(tmp_path / "out"),
                 "--since", "2026-11-02", "--until", "2026-11-04"]) == 0
    assert "Wrote 2 mentions" in capsys.readouterr().out
    assert duckdb.sql(
        f"SELECT mention_key, is_owned, brands, roles FROM read_parquet('{tmp_path}/out/mentions.parquet')"
    ).fetchall() == [
        ("x:1", False, ["Brightwave", "Tidewell"], ["brand", "competitor"]), ("x:2", True, ["Brightwave"], ["brand"])
    ]
    assert duckdb.sql(
        f"SELECT mention_key, brand, matched_terms FROM read_parquet('{tmp_path}/out/mention_brands.parquet')"
    ).fetchall() == [("x:1", "Brightwave", []), ("x:1", "Tidewell", ["Tidewell"]), ("x:2", "Brightwave", [])]
    with pytest.raises(SystemExit) as refused:
        main(["export", "--config", str(config), "--to", str(tmp_path / "out"), "--since", "yesterday"])
    assert refused.value.code == 2 and "'yesterday' is not an ISO 8601 date" in capsys.readouterr().err
