"""Brand queries in the search syntax of X (API v2 search) and Reddit, as far as each can say it.

A compiled query only decides what the platform sends us; every mention is still checked against
the full query locally (`query.boolean`). So a compiled query may be broader than the local one but
never narrower: each part the platform cannot express is replaced by the narrowest thing it can
express that still contains it.

- Positive parts compile to a superset: a wildcard word is left out (its AND still narrows), a
  phrase with a wildcard keeps its other words, `a NEAR/n b` becomes `a AND b`, `site:` is left
  out, and `lang:` is left out unless the caller trusts the platform's language labels.
- A NOT excludes only what the platform matches exactly as we do: single words, and on X
  #hashtags, @handles, $cashtags, `from:` and (trusted) `lang:`. Anything else under a NOT is
  left out of the platform query and applied locally.
- `platform:` is true or false for every item of the platform being compiled for.

The platforms are taken to match keywords on word boundaries, case-insensitively, and phrases as
consecutive words whatever the punctuation between them: X documents its keyword matching as
"tokenised" this way; Reddit search is assumed to behave alike.

A query part that leaves nothing for the platform to search (`serv* OR brightwave` on X, where
`serv*` alone would let every post through) raises `QueryCompileError`; a query that no item of
the platform can match (`platform:reddit AND brightwave` for X) compiles to None: do not search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from query.boolean import And, Field, Node, Not, Or, Query, QueryError, Term, parse_query

_KEYWORD = re.compile(r"\w+")
_X_ENTITY = re.compile(r"[#@]\w+|\$[A-Za-z]\w*")
_X_USERNAME = re.compile(r"\w{1,15}")
_REDDIT_USERNAME = re.compile(r"[\w-]{3,20}")


class QueryCompileError(QueryError):
    """The query cannot be sent to a platform without either losing matches or fetching everything."""


@dataclass(frozen=True)
class _Constant:
    """Every item (True) or none (False); `culprit` is the query part that made it so."""

    value: bool
    culprit: Node | None = None


@dataclass(frozen=True)
class _Search:
    """A compiled query part.

    Attributes:
        text: in the platform's syntax.
        kind: atom, not, and, or: what it needs around it when nested.
        standalone: whether every item it matches contains a positive term or author (a query
            made only of exclusions and language filters would ask the platform for everything).
        culprit: a query part that was dropped on the way, to blame when the result is too broad.
        negated: for a negation, what it negates (so that NOT NOT a is a again).
    """

    text: str
    kind: str
    standalone: bool
    culprit: Node | None = None
    negated: _Search | None = None


_Compiled = _Constant | _Search
_FALSE = _Constant(False)


@dataclass(frozen=True)
class _Dialect:
    name: str
    platform: str
    item: str
    and_separator: str
    trust_language: bool

    def term(self, term: Term, exact: bool) -> _Compiled:
        """The term (exact: a part that matches just what the term matches locally, or False)."""
        if term.wildcard:
            if exact:
                return _Constant(False, term)
            # A wildcard word is left out; the literal words between wildcards stay, as phrases.
            runs: list[list[str]] = [[]]
            for word in term.words:
                if "*" in word:
                    runs.append([])
                else:
                    runs[-1].append(word)
            parts = [self.words(run) for run in runs if run]
            return self.all_of(parts) if parts else _Constant(True, term)
        if term.phrase and len(term.words) > 1:
            return _Constant(False, term) if exact else self.words(list(term.words))
        word = term.words[0]
        if _KEYWORD.fullmatch(word) and word.upper() not in ("AND", "OR", "NOT"):
            return _Search(word, "atom", True)
        if self.platform == "x" and _X_ENTITY.fullmatch(word):
            return _Search(word, "atom", True)
        if exact:
            return _Constant(False, term)
        if self.platform == "reddit" and word[0] in "#@$" and _KEYWORD.fullmatch(word[1:]):
            return _Search(word[1:], "atom", True)  # Reddit search ignores the sign
        return self.words([word])

    def words(self, words: list[str]) -> _Search:
        """A quoted phrase: tokenised, so it also matches the words with punctuation between them."""
        text = " ".join(words)
        if len(words) == 1 and _KEYWORD.fullmatch(text) and text.upper() not in ("AND", "OR", "NOT"):
            return _Search(text, "atom", True)
        return _Search(f'"{text}"', "atom", True)

    def field(self, node: Field) -> _Compiled:
        """A field filter; exact both ways wherever it compiles."""
        if node.name == "platform":
            return _Constant(node.value == self.platform, node)
        if node.name == "author":
            if self.platform == "x":
                return _Search(f"from:{node.value}", "atom", True) if _X_USERNAME.fullmatch(node.value) else _FALSE
            if _REDDIT_USERNAME.fullmatch(node.value):
                return _Search(f"author:{node.value}", "atom", True)
            return _FALSE
        if node.name == "lang" and self.platform == "x" and self.trust_language:
            return _Search(f"lang:{node.value}", "atom", False)
        return _Constant(True, node)  # site:, and lang: where it is not trusted: checked locally only

    def all_of(self, parts: Sequence[_Compiled]) -> _Compiled:
        searches: list[_Search] = []
        culprit = None
        for part in parts:
            if isinstance(part, _Constant):
                if not part.value:
                    return part
                culprit = culprit or part.culprit
            elif part.text not in [search.text for search in searches]:
                searches.append(part)
        if not searches:
            return _Constant(True, culprit)
        if len(searches) == 1:
            only = searches[0]
            return _Search(only.text, only.kind, only.standalone, culprit or only.culprit, only.negated)
        searches.sort(key=lambda search: search.kind == "not")  # what to find first, then what to leave out
        text = self.and_separator.join(f"({s.text})" if s.kind == "or" else s.text for s in searches)
        culprit = culprit or next((s.culprit for s in searches if s.culprit), None)
        return _Search(text, "and", any(s.standalone for s in searches), culprit)

    def any_of(self, parts: Sequence[_Compiled]) -> _Compiled:
        searches: list[_Search] = []
        for part in parts:
            if isinstance(part, _Constant):
                if part.value:
                    return part
            elif part.text not in [search.text for search in searches]:
                searches.append(part)
        if not searches:
            return _FALSE
        if len(searches) == 1:
            return searches[0]
        text = " OR ".join(f"({s.text})" if s.kind == "and" else s.text for s in searches)
        broad = next((s for s in searches if not s.standalone), None)
        culprit = broad.culprit if broad else None
        return _Search(text, "or", broad is None, culprit)

    def negation(self, part: _Compiled, node: Not) -> _Compiled:
        if isinstance(part, _Constant):
            return _Constant(not part.value, node)
        if part.negated is not None:
            return part.negated
        operand = part.text if part.kind == "atom" else f"({part.text})"
        text = f"-{operand}" if self.platform == "x" else f"NOT {operand}"
        return _Search(text, "not", False, node, part)

    def superset(self, node: Node) -> _Compiled:
        """The narrowest platform query that matches everything `node` matches."""
        return self._compile(node, exact=False)

    def _compile(self, node: Node, exact: bool) -> _Compiled:
        # exact=False: a superset of what node matches; exact=True: a subset (for under a NOT).
        if isinstance(node, Term):
            return self.term(node, exact)
        if isinstance(node, Field):
            part = self.field(node)
            if exact and isinstance(part, _Constant) and part.value and node.name != "platform":
                return _Constant(False, node)
            return part
        if isinstance(node, Not):
            return self.negation(self._compile(node.operand, not exact), node)
        if isinstance(node, And):
            return self.all_of([self._compile(operand, exact) for operand in node.operands])
        if isinstance(node, Or):
            return self.any_of([self._compile(operand, exact) for operand in node.operands])
        if exact:  # Near: no platform searches by word distance
            return _Constant(False, node)
        return self.all_of([self._compile(node.left, False), self._compile(node.right, False)])


def to_x_query(query: Query | str, *, trust_platform_language: bool = False) -> str | None:
    """The query in X API v2 search syntax: space for AND, OR, `-` to exclude, "phrases", #, @, $, from:.

    Args:
        query: a parsed query, or its text.
        trust_platform_language: send `lang:` to X. X labels languages with its own classifier,
            which can disagree with ours, so by default `lang:` is only checked locally (an X
            source's `languages` setting is where X's labels are trusted).

    Returns:
        The search query, matching at least every X post the query matches; None when no X post
        can match it (e.g. `platform:reddit AND ...`): do not search X for it.

    Raises:
        QueryCompileError: a part of the query leaves X nothing to search for (e.g. `serv*` alone:
            X has no wildcards), so X would return every post.
        QueryError: `query` is a string that does not parse.
    """
    return _compile(query, _Dialect("X", "x", "post", " ", trust_platform_language))


def to_reddit_query(query: Query | str) -> str | None:
    """The query in Reddit search syntax: AND, OR, NOT, parentheses, "phrases", author:.

    Hashtags, handles and cashtags lose their sign (Reddit search ignores it). Reddit has no
    language filter, and its `site:` is the domain a link post points to, not where the mention
    is, so `lang:` and `site:` are checked locally only.

    Args:
        query: a parsed query, or its text.

    Returns:
        The search query, matching at least every Reddit post or comment the query matches; None
        when no Reddit item can match it.

    Raises:
        QueryCompileError: a part of the query leaves Reddit nothing to search for.
        QueryError: `query` is a string that does not parse.
    """
    return _compile(query, _Dialect("Reddit", "reddit", "post or comment", " AND ", trust_language=False))


def _compile(query: Query | str, dialect: _Dialect) -> str | None:
    if isinstance(query, str):
        query = parse_query(query)
    compiled = dialect.superset(query.root)
    if isinstance(compiled, _Constant) and not compiled.value:
        return None
    if isinstance(compiled, _Search) and compiled.standalone:
        return compiled.text
    culprit = compiled.culprit or query.root
    name = dialect.name
    raise QueryCompileError(
        query.source, culprit.offset,
        f"cannot compile for {name}: {_blame(culprit, dialect)} leaves {name} nothing to search for, so it "
        f"would return every {dialect.item}; AND it with a term {name} can search",
    )


def _blame(node: Node, dialect: _Dialect) -> str:
    if isinstance(node, Term) and node.wildcard:
        return f"the wildcard {node.render()} ({dialect.name} has no wildcards)"
    if isinstance(node, Field) and node.name == "platform":
        return f"{node.render()} (true of every {dialect.name} {dialect.item})"
    if isinstance(node, Field) and node.name == "site":
        return f"{node.render()} (checked locally only)"
    if isinstance(node, Field) and node.name == "lang" and not dialect.trust_language:
        return f"{node.render()} (checked locally only: {dialect.name} labels languages with its own classifier)"
    return node.render()
