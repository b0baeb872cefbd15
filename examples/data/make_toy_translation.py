"""Write examples/data/toy-pairs.tsv: English sentences and their translation into a made-up
language, a sample of the parallel-corpus layout `rnnkit train examples/translate-tsv.toml`
reads (`source<TAB>target`, one pair a line, as Tatoeba/Anki's eng-fra.txt).

The made-up language puts the verb last (subject, object, adjective after its noun, verb),
marks negation with "ne" before the verb and the plural of nouns with "-i"; it has accented
letters, and "want" and "like" have two translations each, so some sources have two
references.

    python examples/data/make_toy_translation.py     # rewrites toy-pairs.tsv (deterministic)
"""

import random
from pathlib import Path

SUBJECTS = {"I": ("mi", ""), "You": ("tu", ""), "He": ("lo", "s"), "She": ("la", "s"),
            "We": ("nos", ""), "They": ("los", "")}
VERBS = {"see": ("vedá",), "eat": ("mangé",), "like": ("amó", "plasé"),
         "want": ("volé", "deziré"), "have": ("tené",), "find": ("trová",)}
NOUNS = {"cat": "gató", "dog": "kano", "apple": "pomo", "bread": "pano", "book": "libro",
         "bird": "ucél", "house": "kasa"}
ADJECTIVES = {"big": "grandé", "small": "petí", "red": "roja", "old": "velo", "": ""}


def translations(subject: str, verb: str, noun: str, adjective: str, plural: bool,
                 negated: bool) -> tuple[str, list[str]]:
    """An English sentence and its translations (one per synonym of the verb)."""
    pronoun, ending = SUBJECTS[subject]
    verb_en = ("does not " if ending else "do not ") + verb if negated else verb + ending
    if verb == "have" and ending and not negated:
        verb_en = "has"
    noun_en = "the " + " ".join(w for w in (adjective, noun + "s" * plural) if w)
    target_noun = NOUNS[noun] + "i" * plural
    out = []
    for word in VERBS[verb]:
        parts = [pronoun, target_noun, ADJECTIVES[adjective], "ne" if negated else "", word]
        out.append(" ".join(p for p in parts if p) + ".")
    return f"{subject} {verb_en} {noun_en}.", out


def pairs(n: int = 400, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct English sentences (seeded), each with all its translations."""
    rng = random.Random(seed)
    seen, out = set(), []
    while len(seen) < n:
        key = (rng.choice(list(SUBJECTS)), rng.choice(list(VERBS)), rng.choice(list(NOUNS)),
               rng.choice(list(ADJECTIVES)), rng.random() < 0.3, rng.random() < 0.3)
        if key in seen:
            continue
        seen.add(key)
        source, targets = translations(*key)
        out += [(source, t) for t in targets]
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("toy-pairs.tsv")
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs()), encoding="utf-8")
    print(f"wrote {path}")
