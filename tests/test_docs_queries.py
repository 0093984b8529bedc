"""Every example query of the docs: found here, run against the demo's warehouse by test_end_to_end.

An analyst's first hour (issue 14): each query in a ```sql block of README.md and docs/*.md, each
`overheard sql -c "..."` line and each "Example: ..." of docs/views.md returns rows on the demo's
snapshot, and its counts arrive in pandas as integers. `run_example_queries` is called after the demo's
run in tests/test_end_to_end.py (one Airflow run for both); the tests here check what it finds.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A column is a count when its name says so (or it is a count(*) without a name).
# (Reach is an estimate, not a count.)
COUNT_COLUMN = re.compile(r"^(?!share)(.*_)?(mentions|count|items|waiting|overdue|breaches|responded|within_sla|"
                          r"authors|amplifiers|runs)$|count_star\(\)|^count\(|^sum\(")


@dataclass(frozen=True)
class ExampleQuery:
    """One example statement of the docs, and where it is."""

    doc: str
    line: int
    sql: str

    @property
    def writes(self) -> bool:
        """An INSERT, UPDATE or DELETE: the docs run these on the pipeline's own file, not the snapshot."""
        return re.match(r"\s*(INSERT|UPDATE|DELETE)\b", _without_comments(self.sql), re.IGNORECASE) is not None


def _without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines()).strip()


def example_queries() -> list[ExampleQuery]:
    """Every example statement in README.md and docs/*.md."""
    found: list[ExampleQuery] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        doc = str(path.relative_to(REPO))
        for block in re.finditer(r"^```sql\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            line = text.count("\n", 0, block.start(1)) + 1
            statement: list[str] = []
            for offset, source_line in enumerate(block.group(1).splitlines()):
                if not statement and not _without_comments(source_line):
                    continue
                statement.append(source_line)
                if _without_comments(source_line).endswith(";"):
                    found.append(ExampleQuery(doc, line + offset - len(statement) + 1, "\n".join(statement)))
                    statement = []
            if _without_comments("\n".join(statement)):
                found.append(ExampleQuery(doc, line, "\n".join(statement)))
        for command in re.finditer(r'overheard sql --config \S+ -c "([^"]+)"', text):
            found.append(ExampleQuery(doc, text.count("\n", 0, command.start()) + 1, command.group(1)))
        for example in re.finditer(r"Example: ((?:SELECT|WITH) .*?)\.(?=\s*$)", text, re.MULTILINE):
            found.append(ExampleQuery(doc, text.count("\n", 0, example.start()) + 1, example.group(1)))
    return found


def run_example_queries(warehouse: Path, snapshot: Path, workdir: Path) -> dict[str, int]:
    """Run every example: reads on the snapshot, writes on a copy of the pipeline's file, in `workdir`
    (where `overheard export --to exports/` has written, for the Parquet examples).

    Returns:
        Rows returned (or written) per example, keyed "doc:line".

    Raises:
        AssertionError: an example failed, returned no rows, or returned a count that is not an integer.
    """
    copy = workdir / "pipeline-copy.duckdb"
    shutil.copy(warehouse, copy)
    rows: dict[str, int] = {}
    for example in example_queries():
        where = f"{example.doc}:{example.line}"
        with duckdb.connect(str(copy if example.writes else snapshot), read_only=not example.writes) as connection:
            connection.execute(f"SET file_search_path = '{workdir}'")
            try:
                frame = connection.execute(example.sql).df()
            except duckdb.Error as error:
                raise AssertionError(f"{where}: {error}\n{example.sql}") from None
        if example.writes:
            rows[where] = int(frame.iloc[0, 0])  # DuckDB answers a write with how many rows it changed
        else:
            rows[where] = len(frame)
            for column in frame.columns:
                if COUNT_COLUMN.search(column):
                    assert pd.api.types.is_integer_dtype(frame[column]), (
                        f"{where}: column {column} arrives in pandas as {frame[column].dtype}, not an integer\n{example.sql}")
        assert rows[where] > 0, f"{where} returned no rows on the demo warehouse:\n{example.sql}"
    return rows


def test_the_docs_examples_are_all_found():
    examples = example_queries()
    by_doc: dict[str, int] = {}
    for example in examples:
        by_doc[example.doc] = by_doc.get(example.doc, 0) + 1
    # The data dictionary's example queries, its correction and its Parquet query; one in social-care.md;
    # the README's `overheard sql -c`; the views' examples.
    assert by_doc["docs/data-dictionary.md"] >= 10
    assert by_doc["docs/social-care.md"] >= 1
    assert by_doc["README.md"] >= 1
    assert by_doc["docs/views.md"] >= 3
    assert [example.doc for example in examples if example.writes] == ["docs/data-dictionary.md"]
    assert all(not example.sql.lstrip().startswith("--") or "\n" in example.sql for example in examples)


def test_an_example_without_rows_or_with_float_counts_fails(tmp_path, monkeypatch):
    """What the end-to-end test relies on: an empty result, an error and a count pandas gets as a float
    each fail, naming the example."""
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE TABLE mentions AS SELECT range AS n FROM range(3)")
    doc = tmp_path / "docs.md"
    monkeypatch.setattr(f"{__name__}.DOCS", [doc])
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)

    def outcome(sql: str) -> str:
        doc.write_text(f"```sql\n{sql}\n```\n", encoding="utf-8")
        try:
            run_example_queries(warehouse, warehouse, tmp_path)
        except AssertionError as error:
            return str(error).splitlines()[0]
        return "ok"

    assert outcome("SELECT count(*)::BIGINT AS mentions FROM mentions;") == "ok"
    assert outcome("SELECT n FROM mentions WHERE n > 5;") == "docs.md:2 returned no rows on the demo warehouse:"
    assert outcome("SELECT sum(n) AS mentions FROM mentions;").startswith(
        "docs.md:2: column mentions arrives in pandas as float64")
    assert outcome("SELECT nothing FROM mentions;").startswith("docs.md:2: Binder Error")
