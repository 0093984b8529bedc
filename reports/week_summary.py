"""The summary at the top of the weekly report: the few changes that matter, one sentence each.

Each sentence is written from the report's numbers and names the comparison it rests on. A difference
between the two weeks is called a change only when it is bigger than noise, by a test on the counts:
- volume: the binomial test of this week's mentions among both weeks' (a conditional test of two
  Poisson counts), against the share of the two weeks' collected source-hours this week had
  (one half when both weeks were wholly collected), so a partly collected week compares per collected hour;
  when a source was collected in one week only, only the mentions of the sources collected in both count;
- share of voice: Fisher's exact test of the brand's mentions against the other tracked brands' in the
  two weeks;
- net sentiment: Fisher's exact test of positive against negative mentions in the two weeks.
A difference with p < `SIGNIFICANCE` is a change; otherwise the sentence says it held, within noise.
Fewer than `MIN_COUNT` mentions in the two weeks together (or scored ones, for sentiment) are "too few
mentions to compare": never "+100%" for one mention against none.

A week nobody collected says so first ("not collected", never "no mentions"), and a week partly
collected says how much was (`reports.coverage`); either week under `reports.coverage.COMPARABLE_SHARE`
of its source-hours refuses the week-over-week comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from scipy.stats import binomtest, fisher_exact

from reports.coverage import FULL_SHARE, SourceCoverage, WeekCoverage
from reports.weekly import SentimentSplit, VoiceShare, WeeklyReport

SIGNIFICANCE = 0.05
MIN_COUNT = 10
NEARLY_ALL = 0.95
LISTED_SOURCES = 4


@dataclass(frozen=True)
class SummaryPoint:
    """One sentence of the summary.

    Attributes:
        topic: coverage, volume, share_of_voice, net_sentiment, story, spikes or theme.
        text: the sentence.
        brand: the brand it is about, if any.
        change: True: a change beyond noise; False: within noise or not comparable; None: not a comparison.
        alert: the reader should know it before trusting the rest (a week under `NEARLY_ALL` collected).
        held: for a figure that held within noise, the clause naming it and the figure it held against
            (a brand whose figures all held gets one sentence of these clauses).
        p_value: the test's p-value, when it is a comparison.
    """

    topic: str
    text: str
    brand: str | None = None
    change: bool | None = None
    alert: bool = False
    held: str | None = None
    p_value: float | None = None


def week_summary(report: WeeklyReport) -> tuple[SummaryPoint, ...]:
    """The summary's sentences, most important first: coverage, then per brand volume, share of voice and
    net sentiment, then the biggest story, the spikes and the emerging theme.

    Args:
        report: the week's numbers (`reports.weekly.collect_weekly_report`).
    """
    coverage = report.coverage
    previous = report.week.previous_label
    failures = {source.source: source.last_error for source in report.sources
                if source.last_error and source.last_status in ("failed", "skipped")}
    points = list(_coverage_points(coverage, report.week.label, previous, failures))
    if coverage.sources and coverage.state == "not collected":
        return tuple(points)
    shares = {row.brand: row for row in report.share_of_voice}
    feelings = {row.brand: row for row in report.sentiment}
    for volume in report.volume:
        if volume.role != "brand":
            continue
        figures = [_volume_point(volume.brand, volume.mentions, volume.previous_mentions, coverage, previous,
                                 report.volume_in_both.get(volume.brand))]
        share = _share_point(shares[volume.brand], report, previous) if report.competitors else None
        if share is not None:
            figures.append(share)
        figures.append(_with_unscored(_sentiment_point(feelings[volume.brand], coverage, previous),
                                      feelings[volume.brand].unscored))
        points.extend(_held_together(volume.brand, figures, previous))
    story = report.biggest_story
    if story is not None:
        outlet = f" ({story.publisher})" if story.publisher else ""
        points.append(SummaryPoint("story", (
            f"The biggest story: “{_headline(story.headline)}”{outlet}, {story.mentions:,} mentions by "
            f"{story.authors:,} author{_plural(story.authors)}, potential reach {story.reach:,}."
        )))
    if report.spikes:
        zone = ZoneInfo(report.week.timezone)
        top = max(report.spikes, key=lambda spike: (spike.score, spike.mentions))
        local = top.hour_start.astimezone(zone)
        about = f", about {', '.join(top.terms[:3])}" if top.terms else ""
        what = f"{top.brand} {top.category}" if top.category else top.brand
        count = len(report.spikes)
        points.append(SummaryPoint("spikes", (
            f"{count} volume spike{_plural(count)}; the largest: {what} from {local:%a} {local.day} {local:%b %H:%M}, "
            f"{top.mentions:,} mentions in its busiest hour against {top.baseline:,.1f} expected{about}."
        ), brand=top.brand, change=True))
    emerging = [theme for theme in report.themes if theme.emerging and theme.role == "brand"]
    if emerging:
        theme = max(emerging, key=lambda theme: (theme.status == "new", theme.mentions))
        since = "new this week" if theme.status == "new" else (
            f"up from {theme.previous_mentions:,} in week {previous}")
        portion = f" ({theme.share_of_brand:.0%} of its mentions)" if theme.share_of_brand is not None else ""
        points.append(SummaryPoint("theme", (
            f"Emerging theme for {theme.brand}: “{theme.label}”, {theme.mentions:,} mentions{portion}, {since}."
        ), brand=theme.brand, change=True))
    return tuple(points)


def _with_unscored(point: SummaryPoint, unscored: int) -> SummaryPoint:
    """The sentiment sentence saying how many mentions no sentiment model could score, if any."""
    if not unscored:
        return point
    note = f"{unscored:,} mention{_plural(unscored)} unscored: a language no sentiment model covers"
    return replace(point, text=f"{point.text.removesuffix('.')}; {note}.",
                   held=f"{point.held[:-1]}; {note})" if point.held else None)


def _held_together(brand: str, figures: list[SummaryPoint], previous: str) -> list[SummaryPoint]:
    """A brand's figures as they are, or one sentence when every one of them held within noise."""
    if not all(figure.held and figure.p_value is not None for figure in figures):
        return figures
    clauses = [figure.held for figure in figures if figure.held]
    p_values = [_p(figure.p_value).removeprefix("p = ").removeprefix("p ") for figure in figures
                if figure.p_value is not None]
    listed = ", ".join(p_values[:-1]) + f" and {p_values[-1]}" if len(p_values) > 1 else p_values[0]
    return [SummaryPoint("brand", (
        f"{brand} held steady on week {previous}: {', '.join(clauses)}; no difference is beyond noise "
        f"(binomial and Fisher's exact tests on the counts, p = {listed})."
    ), brand, False)]


def summary_lines(report: WeeklyReport) -> tuple[str, ...]:
    """The summary as plain text: a line naming the week, then one line per sentence (email, logs)."""
    week = report.week
    heading = (f"Week {week.label} ({week.days[0]:%d %b} to {week.days[-1]:%d %b %Y}, {week.timezone}): "
               f"{report.mentions:,} earned mentions of the tracked brands.")
    if report.coverage.sources and report.coverage.state == "not collected":
        heading = f"Week {week.label} ({week.days[0]:%d %b} to {week.days[-1]:%d %b %Y}, {week.timezone}): not collected."
    return (heading, *(point.text for point in week_summary(report)))


def compare_counts(now: int, before: int, exposure_ratio: float = 1.0) -> float:
    """The two-sided p-value that two Poisson counts have the same rate per unit of exposure.

    Conditional on their sum, `now` is binomial with p = r / (1 + r), r the ratio of this week's
    exposure (collected source-hours) to the week before's.
    """
    return float(binomtest(now, now + before, exposure_ratio / (1 + exposure_ratio)).pvalue)


def compare_proportions(hits: int, misses: int, previous_hits: int, previous_misses: int) -> float:
    """The two-sided p-value (Fisher's exact test) that a proportion is the same in both weeks."""
    return float(fisher_exact([[hits, misses], [previous_hits, previous_misses]]).pvalue)


def _coverage_points(coverage: WeekCoverage, week: str, previous: str, failures: dict[str, str]) -> list[SummaryPoint]:
    """The coverage sentences; `failures`: why each source whose last run in the week failed or was skipped did."""
    if not coverage.sources:
        return []
    if coverage.state == "not collected":
        return [SummaryPoint("coverage", (
            f"Not collected: no configured source had a successful run in week {week}, so it has no figures "
            "(it was not a quiet week: nobody listened)."
        ), change=False, alert=True)]
    how = _how_compared(coverage)
    nearly = min(coverage.share, coverage.previous_share) >= NEARLY_ALL
    if nearly and "partial" in (coverage.state, coverage.previous_state):
        return [SummaryPoint("coverage", (
            f"Nearly all collected: {_share(coverage.share)} of the week's source-hours had a successful run "
            f"({_share(coverage.previous_share)} in week {previous}); {how}."
        ), change=False)]
    points = []
    missing_now = {source.source for source in coverage.partly_collected}
    missing_before = {source.source for source in coverage.sources if source.previous_share < FULL_SHARE}
    if coverage.state == coverage.previous_state == "partial" and missing_now == missing_before:
        return [SummaryPoint("coverage", (
            f"Partly collected, like week {previous} ({_share(coverage.previous_share)}): {_share(coverage.share)} of "
            f"the week's source-hours had a successful run ({_missing(coverage.partly_collected, failures)}); {how}."
        ), change=False, alert=min(coverage.share, coverage.previous_share) < NEARLY_ALL)]
    if coverage.state == "partial":
        points.append(SummaryPoint("coverage", (
            f"Partly collected: {_share(coverage.share)} of the week's source-hours had a successful run "
            f"({_missing(coverage.partly_collected, failures)}); {how}."
        ), change=False, alert=coverage.share < NEARLY_ALL))
    if coverage.previous_state != "collected":
        state = ("was not collected" if coverage.previous_state == "not collected"
                 else f"was partly collected ({_share(coverage.previous_share)} of its source-hours)")
        how = _how_compared(coverage) if coverage.comparable else "there is no comparison with it"
        points.append(SummaryPoint("coverage", f"Week {previous} {state}: {how}.", change=False,
                                   alert=coverage.previous_share < NEARLY_ALL))
    return points


def _how_compared(coverage: WeekCoverage) -> str:
    if not coverage.comparable:
        return "too little was collected to compare it with the week before"
    both = " of the sources collected in both weeks" if len(coverage.in_both) < len(coverage.sources) else ""
    if coverage.per_collected_hour:
        return f"changes are compared per collected hour{both}"
    return f"changes are compared over the sources collected in both weeks{both and ', in full'}"


def _missing(sources: tuple[SourceCoverage, ...], failures: dict[str, str]) -> str:
    """The sources least collected, each with its hours; one collected not at all says why its runs failed."""
    def hours(source: SourceCoverage) -> str:
        if source.collected_hours:
            return f"{source.collected_hours:,.0f} of {source.week_hours:,.0f} hours"
        return f"none: {failures[source.source]}" if source.source in failures else "none"

    parts = [f"{source.source} {hours(source)}" for source in sorted(sources, key=lambda source: source.share)[:LISTED_SOURCES]]
    more = len(sources) - LISTED_SOURCES
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _volume_point(
    brand: str, now: int, before: int, coverage: WeekCoverage, previous: str, in_both: tuple[int, int] | None = None
) -> SummaryPoint:
    """The volume sentence. When a source was collected in one week only, the counts compared are those of
    the sources collected in both (`in_both`), and the sentence says so."""
    said = f"{brand} had {now:,} earned mention{_plural(now)}"
    if coverage.sources and not coverage.comparable:
        return SummaryPoint("volume", f"{said}; there is no comparison with week {previous} (see coverage).",
                            brand, False)
    basis = ""
    if coverage.restricted and in_both is not None:
        sources = len(coverage.in_both)
        said += (f", {in_both[0]:,} of them from the {sources} source{_plural(sources)} collected in both weeks")
        now, before = in_both
        basis = " from those"
    if now + before < MIN_COUNT:
        return SummaryPoint("volume", (
            f"{said}, against {before:,}{basis} in week {previous}: too few mentions to compare."
        ), brand, False)
    per_hour = coverage.per_collected_hour
    ratio = coverage.exposure_ratio if per_hour else 1.0
    hourly = " per collected hour" if per_hour else ""
    p_value = compare_counts(now, before, ratio)
    test = f"binomial test on the two counts{hourly}, {_p(p_value)}"
    if p_value >= SIGNIFICANCE:
        return SummaryPoint("volume", (
            f"{said}, about as many as week {previous}'s {before:,}{basis}{hourly} (within noise: {test})."
        ), brand, False, held=None if basis else (
            f"{now:,} earned mentions (against {before:,}{', per collected hour' if per_hour else ''})"
        ), p_value=p_value)
    change = (now / ratio - before) / before if before else None
    direction = "up" if now / ratio > before else "down"
    amount = f"{direction} {abs(change):.0%}" if change is not None else "up from none"
    return SummaryPoint("volume", (
        f"{said}, {amount}{hourly} on week {previous}'s {before:,}{basis} (beyond noise: {test})."
    ), brand, True)


def _share_point(share: VoiceShare, report: WeeklyReport, previous: str) -> SummaryPoint | None:
    """The share-of-voice sentence; None when no competitor was mentioned in either week (nothing to share)."""
    brand = share.brand
    total_now = sum(row.mentions for row in report.volume)
    total_before = sum(row.previous_mentions for row in report.volume)
    mine_before = next(row.previous_mentions for row in report.volume if row.brand == brand)
    now, before = share.share_by_volume, share.previous_share_by_volume
    if total_now == share.mentions and total_before == mine_before:
        return None
    if report.coverage.sources and not report.coverage.comparable:
        return SummaryPoint("share_of_voice", (
            f"{brand}'s share of voice was {_percent(now)} of the tracked brands' mentions; "
            f"no comparison with week {previous}."
        ), brand, False)
    if now is None or before is None or min(total_now, total_before) < MIN_COUNT:
        return SummaryPoint("share_of_voice", (
            f"{brand}'s share of voice was {_percent(now)} ({_percent(before)} in week {previous}): "
            "too few mentions to compare."
        ), brand, False)
    p_value = compare_proportions(share.mentions, total_now - share.mentions, mine_before, total_before - mine_before)
    test = f"Fisher's exact test on the mention counts, {_p(p_value)}"
    if p_value >= SIGNIFICANCE:
        return SummaryPoint("share_of_voice", (
            f"{brand}'s share of voice held at {now:.0%} of the tracked brands' mentions "
            f"({before:.0%} in week {previous}; within noise: {test})."
        ), brand, False, held=f"share of voice {now:.0%} (against {before:.0%})", p_value=p_value)
    return SummaryPoint("share_of_voice", (
        f"{brand}'s share of voice {'rose' if now > before else 'fell'} from {before:.0%} to {now:.0%} of the "
        f"tracked brands' mentions (beyond noise: {test})."
    ), brand, True)


def _sentiment_point(feeling: SentimentSplit, coverage: WeekCoverage, previous: str) -> SummaryPoint:
    brand = feeling.brand
    now, before = feeling.net_sentiment, feeling.previous_net_sentiment
    scored = feeling.positive + feeling.negative
    if coverage.sources and not coverage.comparable:
        return SummaryPoint("net_sentiment", (
            f"{brand}'s net sentiment was {_signed(now)}; no comparison with week {previous}."
        ), brand, False)
    previous_positive, previous_negative = feeling.previous_positive, feeling.previous_negative
    if now is None:
        return SummaryPoint("net_sentiment", (
            f"{brand} had no positive or negative mentions this week, so no net sentiment."
        ), brand, False)
    if before is None:
        return SummaryPoint("net_sentiment", (
            f"{brand}'s net sentiment was {now:+.2f}; week {previous} had no positive or negative mentions to "
            "compare it with."
        ), brand, False)
    if min(scored, previous_positive + previous_negative) < MIN_COUNT:
        return SummaryPoint("net_sentiment", (
            f"{brand}'s net sentiment was {_signed(now)} ({_signed(before)} in week {previous}): too few positive "
            f"or negative mentions to compare ({scored:,} this week)."
        ), brand, False)
    p_value = compare_proportions(feeling.positive, feeling.negative, previous_positive, previous_negative)
    test = f"Fisher's exact test on positive against negative mentions, {_p(p_value)}"
    counts = (f"{feeling.positive:,} positive and {feeling.negative:,} negative against {previous_positive:,} and "
              f"{previous_negative:,}")
    if p_value >= SIGNIFICANCE:
        return SummaryPoint("net_sentiment", (
            f"{brand}'s net sentiment held at {now:+.2f} ({before:+.2f} in week {previous}; {counts}; "
            f"within noise: {test})."
        ), brand, False, held=f"net sentiment {now:+.2f} (against {before:+.2f})", p_value=p_value)
    return SummaryPoint("net_sentiment", (
        f"{brand}'s net sentiment {'rose' if now > before else 'fell'} from {before:+.2f} to {now:+.2f} "
        f"({counts}; beyond noise: {test})."
    ), brand, True)


def _headline(text: str, limit: int = 120) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}" if p_value < 0.01 else f"p = {p_value:.2f}"


def _share(value: float) -> str:
    """A share of hours: never "0%" for some nor "100%" for not quite all."""
    if 0 < value < 0.01:
        return "under 1%"
    return "over 99%" if 0.99 < value < 1 else f"{value:.0%}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"
