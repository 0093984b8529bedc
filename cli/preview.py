"""`overheard preview`: try a brand query on the mentions already in the warehouse before saving it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from query.boolean import MatchableRecord, mention_text, parse_query
from query.platform_syntax import QueryCompileError, to_reddit_query, to_x_query
from warehouse.connection import read_warehouse


def preview_query(warehouse_path: str | Path, query_text: str, limit: int = 10) -> str:
    """How a query reads, what X and Reddit would be asked, and what it matches in the warehouse.

    Args:
        warehouse_path: the DuckDB file.
        query_text: the query (see docs/query-language.md).
        limit: how many matching mentions to show, newest first.

    Returns:
        A report for the terminal.

    Raises:
        QueryError: the query does not parse (its message points at the column).
    """
    query = parse_query(query_text)
    lines = [f"Query:   {query.canonical}"]
    for platform, compile_to in (("X", to_x_query), ("Reddit", to_reddit_query)):
        try:
            compiled = compile_to(query)
        except QueryCompileError as error:
            compiled = f"(cannot be sent: {error})"
        lines.append(f"{platform + ':':<9}{compiled if compiled is not None else '(nothing there can match; not searched)'}")
    connection = read_warehouse(warehouse_path)
    if connection is None:
        return "\n".join([*lines, "", f"No warehouse at {warehouse_path} yet: run a collection first."])
    with connection:
        rows = connection.execute(
            """SELECT platform, source, native_id, url, title, text, author_handle, published_at, lang
               FROM mentions WHERE NOT is_deleted ORDER BY published_at DESC NULLS LAST"""
        ).fetchall()
    matches = []
    for platform, source, native_id, url, title, text, author, published_at, lang in rows:
        mention = MatchableRecord(text, title, url, author, platform)
        if query.matches(mention, lang):
            matches.append((mention, native_id, published_at))
    by_platform = Counter(mention.platform for mention, _, _ in matches)
    lines += ["", f"Matches {len(matches)} of {len(rows)} mentions in the warehouse"
              + (f" ({', '.join(f'{platform} {count}' for platform, count in by_platform.most_common())})" if matches else "")]
    for mention, native_id, published_at in matches[:limit]:
        when = f"{published_at:%Y-%m-%d %H:%M}" if published_at else "undated"
        headline = " ".join((mention.title or mention.text).split())[:100]
        terms = query.matched_terms(mention_text(mention))
        lines.append(f"  {when}  {mention.platform:<10} {headline}")
        lines.append(f"  {'':16}  {'':<10} {mention.url or f'{mention.platform}:{native_id}'}  terms: {json.dumps(list(terms), ensure_ascii=False)}")
    return "\n".join(lines)
