"""Benchmark: how well themes (`enrich.themes.find_themes`, themes-v1) recover known topics.

    nice -n 10 .venv/bin/python bench/themes_quality.py                    # 3 seeds x 2,000 and 20,000 posts
    nice -n 10 .venv/bin/python bench/themes_quality.py --posts 2000 --seeds 1

The labelled set is bench/themes_corpus.py: posts about a broadband brand written from 8 known topics
(an outage in Leeds, a price rise, a new router, ...; sizes 1 : 1.5 : ... : 4.5) with 30% noise (real
tweets with the brand's name put in). Figures, each against the known topics:

- `ari`: adjusted Rand index over every post, noise and the posts in no theme each one more class;
- `ari_topics`: the same over the topic posts only (how the topics are split and joined);
- `purity`: of the posts put in a theme, the share whose topic is their theme's majority topic
  (noise in a theme counts against it);
- `themed`: the share of topic posts put in a theme; `noise_themed`: the share of noise posts put in one;
- `topics_found`: topics that are the majority of at least one theme; `themes`: how many themes.

Then weeks: a week without the "new router" topic and the week after with all 8 (other posts, same
seed), each grouped by `find_themes`, and the second week's themes matched with the first's by
`match_themes` as the pipeline does. `matched` counts the second week's themes (by their majority topic)
that continue the first week's theme of the same topic, or are new when their topic was absent.

The last line is `ari=<mean> purity=<mean> weeks_matched=<matched>/<themes>` over every run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sklearn.metrics import adjusted_rand_score

from bench.themes_corpus import BRAND, TOPICS, LabelledPost, labelled_posts
from enrich.themes import Theme, find_themes, match_themes


def score(posts_count: int, seed: int) -> dict[str, float]:
    """The figures for one generated set."""
    posts = labelled_posts(posts_count, seed=seed)
    themes = find_themes([post.text for post in posts], brand_words=[BRAND])
    found = [-1] * len(posts)
    for number, theme in enumerate(themes):
        for member in theme.members:
            found[member] = number
    truth = [post.topic or "(noise)" for post in posts]
    on_topic = [index for index, post in enumerate(posts) if post.topic]
    majorities = {}
    in_majority = 0
    for number, theme in enumerate(themes):
        topic, members = Counter(truth[m] for m in theme.members).most_common(1)[0]
        majorities[number] = topic
        in_majority += members
    themed = sum(1 for f in found if f >= 0)
    noise = [index for index, post in enumerate(posts) if not post.topic]
    return {
        "ari": adjusted_rand_score(truth, found),
        "ari_topics": adjusted_rand_score([truth[i] for i in on_topic], [found[i] for i in on_topic]),
        "purity": in_majority / themed if themed else 0.0,
        "themed": sum(1 for i in on_topic if found[i] >= 0) / len(on_topic),
        "noise_themed": sum(1 for i in noise if found[i] >= 0) / max(1, len(noise)),
        "topics_found": len(set(majorities.values()) - {"(noise)"}),
        "themes": len(themes),
    }


def week_matching(posts_count: int, seed: int) -> tuple[int, int, list[str]]:
    """Of the second week's topic themes, how many continue the right theme of the week before (or are
    new when their topic was absent): (right, themes, what the wrong ones did)."""
    first_topics = [topic for topic in sorted(TOPICS) if topic != "new_router"]
    weeks = [labelled_posts(posts_count, seed=seed * 100 + 1, topics=first_topics),
             labelled_posts(posts_count, seed=seed * 100 + 2)]
    found = [find_themes([post.text for post in week], brand_words=[BRAND]) for week in weeks]
    majority = [[_majority(theme, week) for theme in themes] for themes, week in zip(found, weeks, strict=True)]
    matches = match_themes([(t.phrases, t.weights) for t in found[1]], [(t.phrases, t.weights) for t in found[0]])
    right, wrong = 0, []
    topic_themes = [(topic, match) for topic, match in zip(majority[1], matches, strict=True) if topic != "(noise)"]
    for topic, match in topic_themes:
        expected_new = topic not in majority[0]
        if (match is None and expected_new) or (match is not None and majority[0][match] == topic):
            right += 1
        else:
            wrong.append(f"{topic} -> {'new' if match is None else majority[0][match]}")
    return right, len(topic_themes), wrong


def _majority(theme: Theme, posts: list[LabelledPost]) -> str:
    return Counter(posts[m].topic or "(noise)" for m in theme.members).most_common(1)[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--seeds", type=int, default=3)
    arguments = parser.parse_args()
    aris, purities = [], []
    print(f"{len(TOPICS)} topics, 30% noise")
    print("posts   seed  ari    ari_topics  purity  themed  noise_themed  topics_found  themes")
    for count in arguments.posts:
        for seed in range(1, arguments.seeds + 1):
            figures = score(count, seed)
            aris.append(figures["ari"])
            purities.append(figures["purity"])
            print(f"{count:<7} {seed:<5} {figures['ari']:.3f}  {figures['ari_topics']:.3f}       "
                  f"{figures['purity']:.3f}   {figures['themed']:.3f}   {figures['noise_themed']:.3f}         "
                  f"{figures['topics_found']:.0f}/{len(TOPICS)}           {figures['themes']:.0f}")
    print("weeks: posts  seed  matched  wrong")
    right_total = themes_total = 0
    for count in arguments.posts:
        for seed in range(1, arguments.seeds + 1):
            right, themes, wrong = week_matching(count, seed)
            right_total += right
            themes_total += themes
            print(f"       {count:<6} {seed:<5} {right}/{themes}      {', '.join(wrong) or '-'}")
    print(f"ari={statistics.mean(aris):.3f} purity={statistics.mean(purities):.3f} "
          f"weeks_matched={right_total}/{themes_total}")


if __name__ == "__main__":
    main()
