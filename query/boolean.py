"""Boolean brand queries: parse the Brandwatch-style syntax and evaluate it on mentions.

    (Brightwave OR "Brightwave Broadband" OR #brightwavedown) AND (outage OR down OR slow*)
        AND NOT author:brightwavehelp

Operators are written in capitals; from tightest to loosest: NOT, NEAR/n and ONEAR/n, AND, OR.
Adjacent terms need an operator between them (no implicit AND). Terms match case-insensitively on
word boundaries, as `query.brand_matching.BrandMatcher` matches. docs/query-language.md is the reference.

`parse_query` turns a query string into a `Query` or raises `QueryError` pointing at the column.
`Query.matches` evaluates one query on a mention; `QuerySet.matching` evaluates many on a mention,
tokenising its text once and fully evaluating only the queries whose required terms occur in it.
`query.platform_syntax` turns a `Query` into X and Reddit search syntax.

A parsed query is a tree of `Term`, `Field`, `Not`, `And`, `Or` and `Near` nodes. Each has
`holds(scan)` (does the mention satisfy it), `render()` (its canonical text) and `offset` (where it
is in the query); terms, OR groups and NEARs also have `spans(scan)`, the places they match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol
from urllib.parse import urlsplit

FIELDS = ("lang", "site", "author", "platform")
MAX_NESTING = 100

_WORD = re.compile(r"\w+")  # the tokens the prefilter looks terms up in
_SPACED_WORD = re.compile(r"\S+")  # the words NEAR/n counts
_QUOTES = '"\u201c\u201d'  # straight and curly double quotes
_BARE_WORD_END = re.compile(r"[\s()" + _QUOTES + "]")
_FIELD_SYNTAX = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)
_NEAR_SYNTAX = re.compile(r"(O?NEAR)/(.*)", re.DOTALL)
_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT"})
_LANG_VALUE = re.compile(r"[A-Za-z]{2,3}")
_SITE_VALUE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PLATFORM_VALUE = re.compile(r"[A-Za-z0-9_-]+")


class QueryError(ValueError):
    """A query that cannot be parsed (or compiled); the message points at the place.

    The message is `query error at column N: <what was expected>`, then the query line and a caret
    under column N (`line L, column N` when the query spans several lines).

    Attributes:
        query: the query as given.
        offset: where the problem is, as an index into `query`.
        line: the 1-based line of `offset`.
        column: the 1-based column of `offset` in its line.
        reason: the message without the position and the caret.
    """

    def __init__(self, query: str, offset: int, reason: str):
        self.query = query
        self.offset = offset
        self.reason = reason
        self.line, self.column, text = _locate(query, offset)
        caret = "".join("\t" if char == "\t" else " " for char in text[: self.column - 1]) + "^"
        super().__init__(f"query error at {_where(query, offset)}: {reason}\n  {text}\n  {caret}")


def _locate(query: str, offset: int) -> tuple[int, int, str]:
    """The 1-based line and column of `offset`, and the text of that line."""
    line_start = query.rfind("\n", 0, offset) + 1
    line_end = query.find("\n", offset)
    line_text = query[line_start : len(query) if line_end < 0 else line_end]
    return query.count("\n", 0, offset) + 1, offset - line_start + 1, line_text


def _where(query: str, offset: int) -> str:
    """`column C`, or `line L, column C` when the query has several lines."""
    line, column, _ = _locate(query, offset)
    return f"line {line}, column {column}" if "\n" in query.strip() else f"column {column}"


# --- The parsed query ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Term:
    """A word, "exact phrase", #hashtag, @handle or $cashtag, possibly with * wildcards.

    Attributes:
        text: as written, phrase words joined by one space and without the quotes.
        words: the words (one unless a phrase).
        phrase: whether it was written in quotes.
        offset: where it starts in the query.
    """

    text: str
    words: tuple[str, ...]
    phrase: bool
    offset: int
    pattern: _TermPattern = field(repr=False)

    @property
    def wildcard(self) -> bool:
        """Whether any word has a `*`."""
        return "*" in self.text

    def holds(self, scan: _Scan) -> bool:
        return self.pattern.present(scan)

    def spans(self, scan: _Scan) -> list[_Span]:
        return scan.spans(self.pattern)

    def render(self) -> str:
        return f'"{self.text}"' if self.phrase else self.text


@dataclass(frozen=True, eq=False)
class Field:
    """A filter on the mention rather than its text: `lang:`, `site:`, `author:` or `platform:`.

    Attributes:
        name: one of FIELDS.
        value: normalised: lower case; `author` without a leading @ or u/.
        offset: where it starts in the query.
    """

    name: str
    value: str
    offset: int

    def holds(self, scan: _Scan) -> bool:
        if self.name == "lang":
            return scan.lang == self.value
        if self.name == "site":
            host = scan.host
            return host == self.value or host.endswith("." + self.value)
        if self.name == "author":
            return scan.author == self.value
        return scan.platform == self.value

    def render(self) -> str:
        return f"{self.name}:{self.value}"


@dataclass(frozen=True, eq=False)
class Not:
    """NOT operand: the operand does not hold."""

    operand: Node
    offset: int

    def holds(self, scan: _Scan) -> bool:
        return not self.operand.holds(scan)

    def render(self) -> str:
        return f"NOT {_grouped(self.operand)}"


@dataclass(frozen=True, eq=False)
class And:
    """Every operand holds (`a AND b`, and `a NOT b` meaning `a AND NOT b`)."""

    operands: tuple[Node, ...]
    offset: int

    def holds(self, scan: _Scan) -> bool:
        return all(operand.holds(scan) for operand in self.operands)

    def render(self) -> str:
        return " AND ".join(_grouped(operand) for operand in self.operands)


@dataclass(frozen=True, eq=False)
class Or:
    """At least one operand holds."""

    operands: tuple[Node, ...]
    offset: int

    def holds(self, scan: _Scan) -> bool:
        return any(operand.holds(scan) for operand in self.operands)

    def spans(self, scan: _Scan) -> list[_Span]:
        # Under NEAR, the only place spans are asked for, every operand is a term, a NEAR or an OR group.
        return [
            span for operand in self.operands if isinstance(operand, (Term, Or, Near)) for span in operand.spans(scan)
        ]

    def render(self) -> str:
        return " OR ".join(_grouped(operand) for operand in self.operands)


@dataclass(frozen=True, eq=False)
class Near:
    """Both sides occur with at most `distance` words between them; `ordered`: left before right.

    Words are separated by white space, so punctuation stuck to a word is part of it ("Brightwave's"
    is one word). Both sides must be different occurrences (they may not overlap).
    """

    left: _NearOperand
    right: _NearOperand
    distance: int
    ordered: bool
    offset: int

    @property
    def operator(self) -> str:
        return f"{'ONEAR' if self.ordered else 'NEAR'}/{self.distance}"

    def holds(self, scan: _Scan) -> bool:
        return bool(self.spans(scan))

    def spans(self, scan: _Scan) -> list[_Span]:
        if not (self.left.holds(scan) and self.right.holds(scan)):
            return []
        found = []
        for a in self.left.spans(scan):
            for b in self.right.spans(scan):
                if a[1] <= b[0]:
                    gap, forward = b[2] - a[3] - 1, True
                elif b[1] <= a[0]:
                    gap, forward = a[2] - b[3] - 1, False
                else:
                    continue
                if gap <= self.distance and (forward or not self.ordered):
                    found.append((min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])))
        return found

    def render(self) -> str:
        return f"{_grouped(self.left)} {self.operator} {_grouped(self.right)}"


Node = Term | Field | Not | And | Or | Near
# What NEAR works on: the nodes that have spans.
_NearOperand = Term | Or | Near
# A match: start and end characters, first and last white-space-separated word.
_Span = tuple[int, int, int, int]


def _grouped(node: Node) -> str:
    return f"({node.render()})" if isinstance(node, (And, Or, Near)) else node.render()


# --- Matching a query's terms in a text --------------------------------------------------------


@cache
def _fold_table() -> dict[int, int]:
    """Maps each word character to one representative of the characters `re.IGNORECASE` treats as equal.

    Folding text and terms with it before tokenising keeps the token prefilter exact: two strings
    the IGNORECASE regex matches fold to the same tokens. `str.casefold` does not ("İ" folds to two
    characters, the second not a word character, while the regex matches "İ" with "i"). Characters
    that are not word characters are left alone, so the tokens of a text keep their boundaries; the
    one that IGNORECASE equates with word characters, U+0345 (a combining Greek iota), is therefore
    not found by the prefilter where a term has an iota.

    The regex engine itself says which characters are equal: only a cased character (one that has
    another case) equals any other, so each cased word character is searched for, ignoring case,
    among all of them, and the smallest lower-case character found represents it (for ASCII, its
    lower case, as `fold` lower-cases ASCII text directly).
    """
    cased = "".join(
        char
        for char in map(chr, range(0x20000))  # every cased character is below U+1E944
        if (char.isalnum() or char == "_") and (char.lower() != char or char.upper() != char)  # \w, cased
    )
    table = {}
    for char in cased:
        equal = re.findall(re.escape(char), cased, re.IGNORECASE)
        representative = min(other for other in equal if other.lower() == other)
        if representative != char:
            table[ord(char)] = ord(representative)
    return table


def fold(text: str) -> str:
    """`text` with each character replaced by its IGNORECASE representative (lower case for ASCII)."""
    return text.lower() if text.isascii() else text.translate(_fold_table())


class _TermPattern:
    """The compiled form of one term, shared by every query that has the same term."""

    __slots__ = ("regex", "key", "prefix_length", "exact_by_key")

    def __init__(self, words: tuple[str, ...]):
        body = r"\s+".join("".join(r"\w*" if char == "*" else re.escape(char) for char in word) for word in words)
        self.regex = re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
        # Every run of word characters in the term that no * touches is a whole token of any text the
        # term matches; a run just before a * is the start of one. The longest run is the rarest key.
        whole: list[str] = []
        starts: list[str] = []
        for word in words:
            for run in re.finditer(r"\w+", word):
                before = word[run.start() - 1] if run.start() else ""
                after = word[run.end()] if run.end() < len(word) else ""
                if "*" not in (before, after):
                    whole.append(fold(run.group()))
                elif before != "*":
                    starts.append(fold(run.group()))
        if whole:
            self.key = max(whole, key=len)
            self.prefix_length = 0
        else:
            self.key = max(starts, key=len)
            self.prefix_length = len(self.key)
        # A single word of word characters is found exactly by its token: no regex needed.
        self.exact_by_key = len(words) == 1 and _WORD.fullmatch(words[0]) is not None

    def present(self, scan: _Scan) -> bool:
        found = scan.found.get(self)
        if found is None:
            if self.prefix_length:
                found = self.key in scan.prefixes(self.prefix_length)
            else:
                found = self.key in scan.tokens
            if found and not self.exact_by_key:
                found = self.regex.search(scan.text) is not None
            scan.found[self] = found
        return found


_TERM_PATTERNS: dict[tuple[str, ...], _TermPattern] = {}


class Matchable(Protocol):
    """What a query is evaluated on: a mention (`core.mention.Mention`) or a `MatchableRecord`."""

    @property
    def title(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def author_handle(self) -> str | None: ...
    @property
    def platform(self) -> str: ...
    @property
    def lang_hint(self) -> str | None: ...


@dataclass(frozen=True)
class MatchableRecord:
    """The fields queries read, for a post known only by its stored columns or by its text alone."""

    text: str
    title: str | None = None
    url: str | None = None
    author_handle: str | None = None
    platform: str = ""
    lang_hint: str | None = None


class _Scan:
    """One mention as the queries see it: its text, tokenised once, and its fields."""

    __slots__ = (
        "text", "tokens", "found", "lang", "_mention", "_prefixes", "_spans", "_word_starts", "_word_ends", "_host"
    )

    def __init__(self, text: str, mention: Matchable | None = None, lang: str | None = None):
        self.text = text
        self.tokens = set(_WORD.findall(fold(text)))
        self.found: dict[_TermPattern, bool] = {}
        self._mention = mention
        if lang is None and mention is not None and mention.lang_hint:
            lang = mention.lang_hint
        self.lang = re.split("[-_]", lang)[0].lower() if lang else "und"
        self._prefixes: dict[int, set[str]] = {}
        self._spans: dict[_TermPattern, list[_Span]] = {}
        self._word_starts: list[int] | None = None
        self._word_ends: list[int] = []
        self._host: str | None = None

    def prefixes(self, length: int) -> set[str]:
        found = self._prefixes.get(length)
        if found is None:
            found = self._prefixes[length] = {token[:length] for token in self.tokens}
        return found

    def spans(self, pattern: _TermPattern) -> list[_Span]:
        found = self._spans.get(pattern)
        if found is None:
            found = []
            if pattern.present(self):
                if self._word_starts is None:
                    words = list(_SPACED_WORD.finditer(self.text))
                    self._word_starts = [word.start() for word in words]
                    self._word_ends = [word.end() for word in words]
                for match in pattern.regex.finditer(self.text):
                    start, end = match.span()
                    first = bisect_right(self._word_ends, start)
                    last = bisect_right(self._word_starts, end - 1) - 1
                    found.append((start, end, first, last))
            self._spans[pattern] = found
        return found

    @property
    def host(self) -> str:
        if self._host is None:
            url = self._mention.url if self._mention else None
            self._host = (urlsplit(url).hostname or "").lower() if url else ""
        return self._host

    @property
    def author(self) -> str:
        handle = self._mention.author_handle if self._mention else None
        return _author_value(handle) if handle else ""

    @property
    def platform(self) -> str:
        return self._mention.platform.lower() if self._mention else ""


def _author_value(handle: str) -> str:
    handle = handle.strip().lower().lstrip("@")
    for prefix in ("/u/", "u/"):
        handle = handle.removeprefix(prefix)
    return handle


def mention_text(mention: Matchable) -> str:
    """The text queries search: the title, a line break and the body (as enrichment reads it)."""
    return f"{mention.title}\n{mention.text}" if mention.title else mention.text


# --- Queries ---------------------------------------------------------------------------------------


class Query:
    """A parsed brand query, ready to evaluate. Build it with `parse_query`.

    Attributes:
        source: the query as written.
        root: the parsed expression.
    """

    def __init__(self, source: str, root: Node):
        self.source = source
        self.root = root

    def __repr__(self) -> str:
        return f"Query({self.source!r})"

    @property
    def canonical(self) -> str:
        """The query as parsed, every group in parentheses: how precedence was applied."""
        return self.root.render()

    @property
    def positive_terms(self) -> list[Term]:
        """The terms not under a NOT, in query order: what `matched_terms` reports."""
        return [node for node in _walk(self.root, skip_not=True) if isinstance(node, Term)]

    @property
    def fields(self) -> set[str]:
        """The fields the query filters on, e.g. {"lang"}: enrichment detects the language first if needed."""
        return {node.name for node in _walk(self.root) if isinstance(node, Field)}

    @property
    def needs_a_term(self) -> bool:
        """Whether every mention the query matches contains one of `positive_terms`.

        False for queries such as `author:brightwavehelp OR brightwave`, which a field alone can
        satisfy: `QuerySet` evaluates those on every mention.
        """
        return _needs_a_term(self.root)

    def matches(self, mention: Matchable, lang: str | None = None) -> bool:
        """Whether the mention (title and body, and its fields) satisfies the query.

        Args:
            mention: the mention.
            lang: its detected language (ISO 639-1); when None, `mention.lang_hint`, else "und".
        """
        return self.root.holds(_Scan(mention_text(mention), mention, lang))

    def matched_terms(self, text: str) -> tuple[str, ...]:
        """The positive terms (not under a NOT) that occur in `text`, in the order first seen there.

        A term is reported when it occurs, whether or not the part of the query it is in decided
        the match. Terms are given as written (phrases without their quotes).
        """
        scan = _Scan(text)
        first_seen: dict[str, tuple[int, int]] = {}
        for position, term in enumerate(self.positive_terms):
            if term.text.casefold() not in first_seen and term.holds(scan):
                match = term.pattern.regex.search(text)
                first_seen[term.text.casefold()] = (match.start() if match else 0, position)
        terms = self.positive_terms
        return tuple(terms[position].text for _, position in sorted(first_seen.values()))


def _walk(node: Node, *, skip_not: bool = False) -> Iterator[Node]:
    yield node
    if isinstance(node, Not):
        if not skip_not:
            yield from _walk(node.operand)
    elif isinstance(node, (And, Or)):
        for operand in node.operands:
            yield from _walk(operand, skip_not=skip_not)
    elif isinstance(node, Near):
        yield from _walk(node.left, skip_not=skip_not)
        yield from _walk(node.right, skip_not=skip_not)


def _needs_a_term(node: Node) -> bool:
    return _required_terms(node) is not None


def _required_terms(node: Node) -> list[Term] | None:
    """Terms one of which occurs in every text `node` matches (None: node can match without a term).

    For an AND (and a NEAR) one operand's terms are enough: the operand whose terms look rarest,
    as far as the query tells (long words rather than short ones or wildcard prefixes), so that
    `(Brightwave OR #brightwave) AND (outage* OR down)` is looked up by its brand terms only.
    """
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Or):
        found = [_required_terms(operand) for operand in node.operands]
        if any(terms is None for terms in found):
            return None
        return [term for terms in found for term in terms or ()]
    if isinstance(node, (And, Near)):
        operands = node.operands if isinstance(node, And) else (node.left, node.right)
        required = [terms for terms in map(_required_terms, operands) if terms is not None]
        return min(required, key=lambda terms: sum(_commonness(term) for term in terms)) if required else None
    return None  # Field, Not


def _commonness(term: Term) -> float:
    """A guess at how often a term occurs, from its key: shorter keys and prefixes are commoner."""
    return (3 if term.pattern.prefix_length else 1) / len(term.pattern.key)


class QuerySet:
    """Many named queries (one per brand and competitor), evaluated together on each mention.

    The text of a mention is folded and split into word tokens once. A query is evaluated only when
    a term it cannot match without can occur in the text (the term's key token, or for a wildcard
    the start of a token, is among the mention's tokens), or when it does not need a term at all.
    For an AND that is one operand's terms: the operand whose terms look rarest, so that
    `(Brightwave OR #brightwave) AND (outage* OR down)` is evaluated only on texts that have
    "brightwave" in them.

    Args:
        queries: name to query, in the order results are reported.

    Attributes:
        names: the query names, in order.
        evaluations: how many full query evaluations the prefilter has let through so far.
    """

    def __init__(self, queries: Mapping[str, Query]):
        self.names = list(queries)
        self._roots = [query.root for query in queries.values()]
        self._by_token: dict[str, set[int]] = {}
        self._by_prefix: dict[int, dict[str, set[int]]] = {}
        self._always: list[int] = []
        for index, query in enumerate(queries.values()):
            if not query.needs_a_term:
                self._always.append(index)
                continue
            for term in _required_terms(query.root) or ():
                if term.pattern.prefix_length:
                    keys = self._by_prefix.setdefault(term.pattern.prefix_length, {})
                else:
                    keys = self._by_token
                keys.setdefault(term.pattern.key, set()).add(index)
        self._token_keys = set(self._by_token)
        self.evaluations = 0

    def matching(self, mention: Matchable, lang: str | None = None) -> list[str]:
        """The names of the queries the mention matches, in the order given.

        Args:
            mention: the mention (its title and body are searched).
            lang: its detected language; when None, `mention.lang_hint`, else "und".
        """
        scan = _Scan(mention_text(mention), mention, lang)
        candidates = set(self._always)
        for token in scan.tokens & self._token_keys:
            candidates |= self._by_token[token]
        for length, keys in self._by_prefix.items():
            for prefix in scan.prefixes(length) & keys.keys():
                candidates |= keys[prefix]
        self.evaluations += len(candidates)
        return [self.names[index] for index in sorted(candidates) if self._roots[index].holds(scan)]


# --- Parsing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, field, and, or, not, near, open, close, end
    offset: int
    text: str  # as written
    words: tuple[str, ...] = ()  # phrase: its words
    distance: int = 0  # near: the most words between the operands
    ordered: bool = False  # near: ONEAR (or NEAR/nf), the left operand first
    field_name: str = ""  # field: one of FIELDS
    field_value: str = ""  # field: normalised (see `Field.value`)


def parse_query(source: str) -> Query:
    """Parse a query.

    Args:
        source: the query, e.g. `(Brightwave OR #brightwave) AND NOT (job* OR hiring)`.

    Returns:
        The query, ready to evaluate and to compile.

    Raises:
        QueryError: the query is empty or not well formed; the message says where and what was expected.
    """
    return Query(source, _Parser(source).parse())


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = list(_tokens(source))
        self.position = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.position]

    def advance(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def error(self, offset: int, reason: str) -> QueryError:
        return QueryError(self.source, offset, reason)

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.error(self.token.offset, 'the query is empty; expected a term or "("')
        root = self.parse_or()
        if self.token.kind == "close":
            raise self.error(self.token.offset, 'found ")" without a "(" before it to close')
        if self.token.kind != "end":
            raise self.missing_operator()
        if not any(isinstance(node, (Term, Field)) for node in _walk(root, skip_not=True)):
            raise self.error(root.offset, "the query only excludes; it needs a term or field that is not under NOT")
        return root

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        offset = self.token.offset
        while self.token.kind == "or":
            operator = self.advance()
            operands.append(self.parse_and(after=operator))
        return operands[0] if len(operands) == 1 else Or(_flat(operands, Or), offset)

    def parse_and(self, after: _Token | None = None) -> Node:
        operands = [self.parse_near(after)]
        offset = self.token.offset
        while self.token.kind in ("and", "not"):
            # `a NOT b` is `a AND NOT b`: the NOT stays for parse_unary to read.
            operator = self.advance() if self.token.kind == "and" else None
            operands.append(self.parse_near(after=operator))
        return operands[0] if len(operands) == 1 else And(_flat(operands, And), offset)

    def parse_near(self, after: _Token | None = None) -> Node:
        left = self.parse_unary(after)
        while self.token.kind == "near":
            operator = self.advance()
            right = self.parse_unary(after=operator)
            left = Near(
                self.near_operand(left, operator), self.near_operand(right, operator),
                operator.distance, operator.ordered, operator.offset,
            )
        return left

    def near_operand(self, node: Node, operator: _Token) -> _NearOperand:
        """`node`, if NEAR can tell where it matches: a term, a NEAR, or an OR group of them."""
        name = operator.text
        if isinstance(node, Not):
            raise self.error(
                node.offset, f"{name} works on terms, phrases and OR groups of them, found NOT; "
                f"to exclude, put NOT before the whole group: NOT (a {name} b)"
            )
        if isinstance(node, And):
            raise self.error(node.offset, f"{name} works on terms, phrases and OR groups of them, found AND")
        if isinstance(node, Field):
            raise self.error(
                node.offset, f"{name} works on terms, phrases and OR groups of them, found the field {node.render()}"
            )
        if isinstance(node, Or):
            for operand in node.operands:
                self.near_operand(operand, operator)
        return node

    def parse_unary(self, after: _Token | None = None) -> Node:
        negations: list[_Token] = []
        while self.token.kind == "not":
            negations.append(self.advance())
            after = negations[-1]
        node = self.parse_primary(after)
        if len(negations) % 2:
            node = Not(node, negations[-1].offset)
        return node

    def parse_primary(self, after: _Token | None) -> Node:
        token = self.token
        if token.kind == "word":
            self.advance()
            return _term(self.source, token, (token.text,), phrase=False)
        if token.kind == "phrase":
            self.advance()
            return _term(self.source, token, token.words, phrase=True)
        if token.kind == "field":
            self.advance()
            return Field(token.field_name, token.field_value, token.offset)
        if token.kind == "open":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise self.error(token.offset, f"parentheses are nested more than {MAX_NESTING} deep")
            self.advance()
            node = self.parse_or()
            if self.token.kind == "end":
                opened = _where(self.source, token.offset)
                raise self.error(self.token.offset, f'expected ")" to close the "(" at {opened}, found end of query')
            if self.token.kind != "close":
                raise self.missing_operator()
            self.advance()
            self.depth -= 1
            return node
        where = f" after {after.text}" if after else ""
        raise self.error(token.offset, f'expected a term or "("{where}, found {_describe(token)}')

    def missing_operator(self) -> QueryError:
        """Two operands side by side, as in `Brightwave outage`: there is no implicit AND."""
        token = self.token
        previous = self.tokens[self.position - 1]
        reason = f"expected AND, OR, NOT, NEAR/n or ONEAR/n before {_describe(token)}"
        for word in (token, previous):
            if word.kind == "word" and (word.text.upper() in _OPERATOR_WORDS or _NEAR_SYNTAX.match(word.text.upper())):
                capitals = word.text.upper()
                return self.error(word.offset, f"operators are written in capitals: {capitals}, found {word.text}")
        if token.kind == "word" and previous.kind == "word":
            phrase = f'"{previous.text} {token.text}"'
            reason += f"; terms are not joined without an operator (for the exact phrase write {phrase})"
        else:
            reason += "; terms are not joined without an operator"
        return self.error(token.offset, reason)


def _flat(operands: list[Node], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    """`(a AND b) AND c` is `a AND b AND c`."""
    return tuple(
        inner for operand in operands for inner in (operand.operands if isinstance(operand, kind) else (operand,))
    )


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "end of query"
    if token.kind in ("open", "close"):
        return f'"{token.text}"'
    if token.kind in ("and", "or", "not", "near"):
        return token.text
    if token.kind == "phrase":
        return f"the phrase {token.text}"
    if token.kind == "field":
        return f"the field {token.text}"
    return f'"{token.text}"'


def _tokens(source: str) -> Iterator[_Token]:
    position = 0
    length = len(source)
    while True:
        while position < length and source[position].isspace():
            position += 1
        if position >= length:
            yield _Token("end", len(source.rstrip()), "")
            return
        char = source[position]
        if char in "()":
            yield _Token("open" if char == "(" else "close", position, char)
            position += 1
        elif char in _QUOTES:
            close = next((index for index in range(position + 1, length) if source[index] in _QUOTES), -1)
            if close < 0:
                raise QueryError(source, position, 'expected a closing " for the phrase that starts here')
            words = tuple(source[position + 1 : close].split())
            if not words:
                raise QueryError(source, position, "expected words between the quotes, found an empty phrase")
            yield _Token("phrase", position, source[position : close + 1], words=words)
            position = close + 1
        else:
            end_match = _BARE_WORD_END.search(source, position)
            end = end_match.start() if end_match else length
            yield _word_token(source, source[position:end], position)
            position = end


def _word_token(source: str, text: str, offset: int) -> _Token:
    if text in _OPERATOR_WORDS:
        return _Token(text.lower(), offset, text)
    near = _NEAR_SYNTAX.fullmatch(text)
    if near:
        name, argument = near.groups()
        number = argument[:-1] if name == "NEAR" and argument.endswith("f") else argument
        if not number.isdigit() or not number.isascii():
            raise QueryError(
                source, offset + len(name) + 1,
                f"expected a number of words after {name}/, e.g. {name}/5, found "
                + (f'"{argument}"' if argument else "nothing"),
            )
        ordered = name == "ONEAR" or number != argument
        return _Token("near", offset, text, distance=int(number), ordered=ordered)
    if text in ("NEAR", "ONEAR"):
        raise QueryError(source, offset, f"expected {text}/n with the most words between the terms, e.g. {text}/5")
    if text.startswith("-"):
        excluded = text[1:] or "term"
        raise QueryError(
            source, offset, f'"-" does not exclude here; write NOT before what to exclude, e.g. NOT {excluded}'
        )
    field_syntax = _FIELD_SYNTAX.fullmatch(text)
    if field_syntax:
        name, value = field_syntax.group(1).lower(), field_syntax.group(2)
        if name not in FIELDS:
            raise QueryError(
                source, offset,
                f'unknown field "{field_syntax.group(1)}:"; expected one of lang:, site:, author:, platform: '
                "(to search for the text, put it in quotes)",
            )
        return _Token(
            "field", offset, text, field_name=name, field_value=_field_value(source, name, value, offset + len(name) + 1)
        )
    return _Token("word", offset, text)


def _field_value(source: str, name: str, value: str, offset: int) -> str:
    examples = {
        "lang": "lang:en", "site": "site:bbc.co.uk", "author": "author:brightwavehelp", "platform": "platform:reddit"
    }
    if not value:
        raise QueryError(source, offset, f"expected a value right after {name}:, e.g. {examples[name]}")
    checks = {
        "lang": (_LANG_VALUE, "a two- or three-letter language code"),
        "site": (_SITE_VALUE, "a host name"),
        "platform": (_PLATFORM_VALUE, "a platform name"),
    }
    if name in checks:
        pattern, what = checks[name]
        if not pattern.fullmatch(value):
            raise QueryError(source, offset, f'expected {what} after {name}:, e.g. {examples[name]}, found "{value}"')
        return value.lower()
    author = _author_value(value)
    if not author:
        raise QueryError(source, offset, f'expected a handle after author:, e.g. {examples["author"]}, found "{value}"')
    return author


def _term(source: str, token: _Token, words: tuple[str, ...], *, phrase: bool) -> Term:
    word_offset = token.offset + (1 if phrase else 0)
    for word in words:
        if phrase:
            word_offset = source.index(word, word_offset)
        if not _WORD.search(word):
            raise QueryError(source, word_offset, f'expected a term with a letter or digit, found "{word}"')
        star = word.find("*")
        if star >= 0 and not re.search(r"\w\w$", word[:star]):
            raise QueryError(
                source, word_offset + star,
                f'a wildcard needs at least two letters or digits right before "*", e.g. serv*, found "{word}"',
            )
        word_offset += len(word)
    # One pattern per distinct term (whatever its case), so queries that share a term search for it once.
    folded = tuple(fold(word) for word in words)
    pattern = _TERM_PATTERNS.get(folded)
    if pattern is None:
        pattern = _TERM_PATTERNS[folded] = _TermPattern(words)
    return Term(" ".join(words), words, phrase, token.offset, pattern)
