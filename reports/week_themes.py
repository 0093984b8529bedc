"""The report week's themes: what each brand's and competitor's mentions were about, and what is emerging.

Rows of the warehouse's `themes` table (themes-v1, migration 018: computed by the pipeline after each run's
stories, or by `overheard themes`) for the report week, the largest `THEMES_PER_BRAND` of each configured
brand and competitor, in configuration order, with up to `EXAMPLES` example posts each (from the week's
staged mentions). A theme is `new` when the brand had no matching theme the week before, `growing` or
`shrinking` when its mentions changed beyond chance (a binomial test), else `steady`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.week_mentions import WeekMentions

THEMES_PER_BRAND = 5
EXAMPLES = 2


@dataclass(frozen=True)
class ThemeExample:
    """An example post of a theme."""

    mention_key: str
    title: str | None
    text: str
    url: str | None
    author: str


@dataclass(frozen=True)
class WeekTheme:
    """One theme of a brand in the report week.

    Attributes:
        brand: the brand or competitor.
        role: `brand` or `competitor`.
        rank: 1 for the brand's largest theme.
        label: its three most characteristic phrases.
        phrases: up to 12 characteristic phrases, most distinctive first.
        mentions: the brand's earned mentions in the theme.
        brand_mentions: the brand's earned mentions in the week, in a theme or not.
        reach: their potential reach.
        positive, neutral, negative, unscored: their labels for the brand.
        previous_mentions: the matching theme's mentions the week before (0: not a theme then).
        status: new, growing, shrinking or steady.
        first_week: the first week of its unbroken run of weeks.
        examples: its most typical posts.
    """

    brand: str
    role: str
    rank: int
    label: str
    phrases: tuple[str, ...]
    mentions: int
    brand_mentions: int
    reach: int
    positive: int
    neutral: int
    negative: int
    unscored: int
    previous_mentions: int
    status: str
    first_week: str
    examples: tuple[ThemeExample, ...]

    @property
    def share_of_brand(self) -> float | None:
        """The theme's share of the brand's mentions in the week."""
        return self.mentions / self.brand_mentions if self.brand_mentions else None

    @property
    def net_sentiment(self) -> float | None:
        """(positive − negative) / (positive + negative), as net_sentiment_of; None without either."""
        scored = self.positive + self.negative
        return (self.positive - self.negative) / scored if scored else None

    @property
    def emerging(self) -> bool:
        """New or growing: what the report points out."""
        return self.status in ("new", "growing")


def week_themes(staged: WeekMentions, brands: list[str]) -> tuple[WeekTheme, ...]:
    """The report week's themes of the configured brands and competitors.

    Args:
        staged: the week's mentions, inside its `with` block.
        brands: the configured brands then competitors, in order.
    """
    if not brands:
        return ()
    rows = staged.connection.execute(
        """SELECT brand, role, rank, label, phrases, mentions, brand_mentions, reach, positive, neutral, negative,
                  unscored, previous_mentions, status, first_week, example_keys
           FROM themes WHERE week = $week AND rank <= $most AND brand IN (SELECT unnest($brands::VARCHAR[]))
           ORDER BY list_position($brands::VARCHAR[], brand), rank""",
        {"week": staged.week.label, "most": THEMES_PER_BRAND, "brands": brands},
    ).fetchall()
    keys = [key for row in rows for key in row[-1][:EXAMPLES]]
    examples = {
        key: ThemeExample(key, title, text or "", url, author)
        for key, title, text, url, author in staged.connection.execute(
            f"""SELECT mention_key, title, text, url, byline FROM {staged.mentions}
                WHERE this_week AND mention_key IN (SELECT unnest(?::VARCHAR[]))""",
            [keys],
        ).fetchall()
    }
    themes = []
    for (brand, role, rank, label, phrases, mentions, brand_mentions, reach, positive, neutral, negative, unscored,
         previous_mentions, status, first_week, example_keys) in rows:
        themes.append(WeekTheme(
            brand=brand, role=role, rank=rank, label=label, phrases=tuple(phrases), mentions=mentions,
            brand_mentions=brand_mentions, reach=reach, positive=positive, neutral=neutral, negative=negative,
            unscored=unscored, previous_mentions=previous_mentions, status=status, first_week=first_week,
            examples=tuple(examples[key] for key in example_keys[:EXAMPLES] if key in examples),
        ))
    return tuple(themes)
