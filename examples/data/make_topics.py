"""Write examples/data/topics.csv: short made-up headlines on three topics, a sample of the
table layout `rnnkit train examples/topics.toml` reads (a text column and a label column).

    python examples/data/make_topics.py        # rewrites topics.csv (deterministic)
"""

import csv
import random
from pathlib import Path

TOPICS = {
    "sport": ("the team", "a striker", "the coach", "fans", "the keeper", "the club"),
    "science": ("researchers", "a new telescope", "the lab", "a probe", "chemists", "a study"),
    "markets": ("shares", "the central bank", "investors", "the index", "bond yields", "oil"),
}
VERBS = {
    "sport": ("won the cup", "scored twice", "lost the derby", "signed a contract",
              "saved a penalty", "drew at home"),
    "science": ("found a new species", "measured the signal", "mapped the genome",
                "observed a comet", "published the data", "tested the vaccine"),
    "markets": ("fell sharply", "rose on earnings", "raised rates", "hit a record",
                "slipped after the report", "rallied in late trading"),
}
TAILS = ("on monday", "this week", "after a long wait", "in the morning", "again",
         "despite the rain", "for the first time", "")


def rows(n: int = 300, seed: int = 0):
    """``n`` distinct headlines, the topics in turn: drawn without replacement from each
    topic's 288 (subject, verb, tail) triples, so no test headline is also a training one."""
    rng = random.Random(seed)
    drawn = {topic: rng.sample([(s, v, t) for s in TOPICS[topic] for v in VERBS[topic]
                                for t in TAILS], -(-n // 3)) for topic in TOPICS}
    for i in range(n):
        topic = list(TOPICS)[i % 3]
        yield " ".join(drawn[topic][i // 3]).strip(), topic


if __name__ == "__main__":
    path = Path(__file__).with_name("topics.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["headline", "topic"])
        w.writerows(rows())
    print(f"wrote {path}")
