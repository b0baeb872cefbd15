"""Value tests of rnnkit/tasks/translation_data.py against independent references: the split
of the built-in corpus (a generated stand-in for eng-fra) and of the user's files, with the
held-out sources worked out by ``random.Random`` directly; the columns swapped by
``reverse`` in every file; the warnings and the message of an empty part; the tokenizers
against the tokenizer classes fitted directly (found by mutation testing,
benchmarks/mutation.py)."""

from __future__ import annotations

import linecache
import random
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

import rnnkit.tasks.translation_data as tdmod
from rnnkit.data.tokenizers import SubwordTokenizer, WordTokenizer
from rnnkit.tasks import TaskError
from rnnkit.tasks.translation import TranslationConfig, TranslationPredictor
from rnnkit.tasks.translation_data import fit_tokenizer, read_pairs, split_pairs


def _tsv(path, pairs, blank_after=None):
    lines = [f"{s}\t{t}\n" for s, t in pairs]
    if blank_after is not None:
        lines.insert(blank_after, "\n")
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def _at_caller(w) -> None:
    """A warning points at the caller, never translation_data.py itself: outside mutmut
    exactly this file; under mutmut, whose trampoline (two frames) stands between, its inner
    frame, whose line calls the function itself (the outer frame calls the inner)."""
    assert not w.filename.endswith("translation_data.py")
    if w.filename.endswith("trampoline.py"):
        assert "func(*call_args" in linecache.getline(w.filename, w.lineno)
    else:
        assert w.filename == __file__


def _held(sources, n, seed):
    """The ``n`` sources a seeded shuffle of the sorted distinct sources puts first."""
    order = sorted(set(sources))
    random.Random(seed).shuffle(order)
    return set(order[:n])


# -- the built-in corpus (eng-fra's place taken by 3,000 generated pairs) ----------------------
ENG_FRA = [(f"en {i}", f"fr {i}") for i in range(2800)] + [("en 7", "fr bis 7")]


@pytest.fixture
def builtin(monkeypatch):
    monkeypatch.setattr(tdmod, "load_eng_fra", lambda: list(ENG_FRA))
    return replace(TranslationConfig(), split_seed=4)


def test_the_builtin_corpus_holds_out_2000_test_and_500_validation_sources(builtin):
    out = split_pairs(builtin)
    test = _held([s for s, _ in ENG_FRA], 2000, 4)
    assert {s for s, _ in out["test"]} == test
    rest = [s for s, _ in ENG_FRA if s not in test]
    val = _held(rest, 500, 5)  # validation: the next seed, on what the test part leaves
    assert {s for s, _ in out["val"]} == val
    assert out["train"] == [(s, t) for s, t in ENG_FRA if s not in test | val]
    if "en 7" in test | val:  # every reference of a held-out source
        part = out["test"] if "en 7" in test else out["val"]
        assert dict(part)["en 7"] == ["fr 7", "fr bis 7"]


def test_reverse_makes_the_french_column_the_source_of_the_builtin_corpus(builtin):
    out = split_pairs(replace(builtin, reverse=True, test_sources=10, val_sources=5))
    assert len(out["test"]) == 10 and len(out["val"]) == 5
    assert all(s.startswith("fr ") and t.startswith("en ") for s, t in out["train"])
    assert all(s.startswith("fr ") for part in ("val", "test") for s, _ in out[part])
    plain = split_pairs(replace(builtin, test_sources=10, val_sources=5))
    assert all(s.startswith("en ") for s, _ in plain["train"])


# -- the user's files --------------------------------------------------------------------------
PAIRS = [(f"src {i}", f"tgt {i}") for i in range(40)]


def test_train_and_test_files_carve_validation_with_the_next_seed(tmp_path):
    cfg = replace(TranslationConfig(), train_data=_tsv(tmp_path / "train.tsv", PAIRS[:30]),
                  test_data=_tsv(tmp_path / "test.tsv", PAIRS[30:]), val_sources=6)
    for seed in (0, 3, 8):
        out = split_pairs(replace(cfg, split_seed=seed))
        assert out["test"] == [(s, [t]) for s, t in PAIRS[30:]]  # the file, in its order
        val = _held([s for s, _ in PAIRS[:30]], 6, seed + 1)
        assert {s for s, _ in out["val"]} == val
        assert out["train"] == [p for p in PAIRS[:30] if p[0] not in val]


def test_reverse_swaps_the_columns_of_every_file(tmp_path):
    cfg = replace(TranslationConfig(), reverse=True,
                  train_data=_tsv(tmp_path / "train.tsv", PAIRS[:20]),
                  val_data=_tsv(tmp_path / "val.tsv", PAIRS[20:30]),
                  test_data=_tsv(tmp_path / "test.tsv", PAIRS[30:]))
    out = split_pairs(cfg)
    assert out["train"] == [(t, s) for s, t in PAIRS[:20]]
    assert out["val"] == [(t, [s]) for s, t in PAIRS[20:30]]
    assert out["test"] == [(t, [s]) for s, t in PAIRS[30:]]


def test_an_empty_part_says_what_to_change(tmp_path):
    cfg = replace(TranslationConfig(), data=_tsv(tmp_path / "all.tsv", PAIRS[:5]),
                  test_sources=5, val_sources=1)
    with pytest.raises(TaskError) as e:
        split_pairs(cfg)
    assert str(e.value) == ("the train part holds no sentence pairs: give more data, or lower "
                            "task.test_sources / task.val_sources (fractions: "
                            "task.test_fraction / task.val_fraction)")


def test_blank_lines_and_leaked_sources_are_warned_at_the_caller(tmp_path):
    path = _tsv(tmp_path / "a.tsv", PAIRS[:3], blank_after=1)
    with pytest.warns(UserWarning) as w:
        assert read_pairs(path, False) == PAIRS[:3]
    assert [str(x.message) for x in w] == [f"{path}: skipped 1 blank line(s) (line 2)"]
    _at_caller(w[0])
    with pytest.warns(UserWarning):
        assert read_pairs(path, True) == [(t, s) for s, t in PAIRS[:3]]
    cfg = replace(TranslationConfig(), train_data=_tsv(tmp_path / "train.tsv", PAIRS[:20]),
                  val_data=_tsv(tmp_path / "val.tsv", PAIRS[18:22]),
                  test_data=_tsv(tmp_path / "test.tsv", PAIRS[15:25]))
    with pytest.warns(UserWarning) as w:
        split_pairs(cfg)
    assert [str(x.message) for x in w] == [
        "2 of the 4 val sources also appear in task.train_data: their scores are not those "
        "of unseen sentences",
        "5 of the 10 test sources also appear in task.train_data: their scores are not those "
        "of unseen sentences"]
    for x in w:
        _at_caller(x)


# -- tokenizers ----------------------------------------------------------------------------
TEXTS = ["The cat sees the dog .", "A dog sees a bird .", "the bird sees The cat ."] * 3


def test_the_word_tokenizer_keeps_min_freq_and_max_vocab():
    cfg = replace(TranslationConfig(), min_freq=1, max_vocab=3)
    got = fit_tokenizer(cfg, TEXTS, lower=False)
    want = WordTokenizer.fit(TEXTS, min_freq=1, max_size=3, lower=False)
    assert got.vocab.itos == want.vocab.itos and got.lower is False
    every = fit_tokenizer(replace(cfg, max_vocab=0), TEXTS, lower=True)  # 0: no limit
    assert every.vocab.itos == WordTokenizer.fit(TEXTS, min_freq=1).vocab.itos
    assert len(every.vocab.itos) > len(got.vocab.itos)


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_the_subword_tokenizer_is_fitted_with_the_configured_size_case_and_model(model_type):
    rng = random.Random(0)  # 400 made-up words: more pieces than 300 to choose from
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(400)]
    texts = ["Anna " + " ".join(words[i:i + 8]) for i in range(0, 400, 8)]
    cfg = replace(TranslationConfig(), tokenizer="subword", vocab_size=300,
                  subword_model=model_type)
    for lower in (True, False):
        got = fit_tokenizer(cfg, texts, lower=lower)
        want = SubwordTokenizer.fit(texts, vocab_size=300, lower=lower, model_type=model_type)
        assert got.model == want.model and got.lower is lower
    other = "unigram" if model_type == "bpe" else "bpe"
    assert got.model != SubwordTokenizer.fit(texts, vocab_size=300, model_type=other).model
    assert got.model != SubwordTokenizer.fit(texts, model_type=model_type).model  # 8000
    assert fit_tokenizer(cfg, texts, lower=True).split("Anna") == \
        fit_tokenizer(cfg, texts, lower=True).split("anna")


def test_a_subword_size_too_small_for_the_characters_names_the_setting():
    texts = ["".join(chr(0x4E00 + 50 * k + i) for i in range(50)) for k in range(2)]
    cfg = replace(TranslationConfig(), tokenizer="subword", vocab_size=300)
    with pytest.raises(ValueError) as direct:
        SubwordTokenizer.fit(texts, vocab_size=300)
    with pytest.raises(TaskError) as e:
        fit_tokenizer(cfg, texts, lower=False)
    assert str(e.value) == f"task.vocab_size = 300: {direct.value}"
    assert e.value.__cause__ is None


def test_unspaced_needs_more_than_half_the_letters_of_the_first_2000_texts():
    # 2 of 4 letters Han is no majority; 2 of 3 is; digits and spaces are no letters
    assert tdmod.unspaced(["ab 我爱 12"]) is False and tdmod.unspaced(["a 我爱 12"]) is True
    assert tdmod.unspaced(["a"] * 2000 + ["我" * 5000]) is False  # the 2,001st is not read
    assert tdmod.unspaced(["a"] * 1999 + ["我" * 5000]) is True


def test_unspaced_counts_each_script_range_with_both_ends():
    # each range's own ends where they are letters (U+4E00 and U+9FFF: the first and last
    # unified ideographs, U+3400 and U+4DBF: extension A, ...), and the letters just outside:
    # Yi (U+A000), Georgian (U+10A0), Latin ligature (U+FB00), halfwidth Hangul (U+FFA0)
    for code in (0x1000, 0x1780, 0x31F0, 0xFF66, 0x3400, 0x4E00, 0xF900, 0x20000,
                 0x30FF, 0x31FF, 0xFF9F, 0x4DBF, 0x9FFF):
        assert tdmod.unspaced([chr(code)]) is True, hex(code)
    for code in (0xA000, 0x10A0, 0xFB00, 0xFFA0, 0x0F00):
        assert tdmod.unspaced([chr(code)]) is False, hex(code)


ZH = [("I like cats.", "我喜欢猫。"), ("I like dogs.", "我喜欢狗。")]


def test_script_notes_quote_the_first_sentence_and_spare_zh_and_char_bleu():
    cfg = replace(TranslationConfig(), tokenizer="word", bleu_tokenize="13a")
    word = ("the target sentences are written without spaces between words (e.g. '我喜欢猫。'): "
            "task.tokenizer = 'word' makes each phrase one token; set task.tokenizer = "
            "'subword'")
    bleu = ("the target sentences are written without spaces between words: "
            "task.bleu_tokenize = '13a' reads each as about one word, so BLEU is 0 even for "
            "exact translations; set task.bleu_tokenize = 'zh' (Chinese) or 'char' "
            "(Japanese, Thai, ...)")
    assert tdmod.script_notes(cfg, ZH) == [word, bleu]
    for tokenize in ("zh", "char"):  # BLEU's own tokenizers for such text: no BLEU note
        assert tdmod.script_notes(replace(cfg, bleu_tokenize=tokenize), ZH) == [word]


def _predictor(reverse=False):
    """A translation predictor without a model: read_file reads only the run's task.reverse."""
    cfg = SimpleNamespace(task=replace(TranslationConfig(), reverse=reverse))
    return TranslationPredictor(None, SimpleNamespace(cfg=cfg), torch.nn.Linear(1, 1), {})


@pytest.mark.parametrize("blanks, shown", [
    (10, "line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"),  # ten: all of them
    (11, "line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ..."),  # eleven: the first ten, then " ..."
    (12, "line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ...")])
def test_read_inputs_names_the_first_ten_blank_lines_at_the_read_file_caller(tmp_path, blanks,
                                                                             shown):
    path = tmp_path / "refs.tsv"
    path.write_text("Hi.\tSalut.\n" + "\n" * blanks + "Go.\tVa.\n", encoding="utf-8")
    p = _predictor()
    with pytest.warns(UserWarning) as w:
        lines = p.read_file(path)  # the line the warning names
    assert [(x.text, x.reference) for x in lines] == [("Hi.", "Salut."), ("Go.", "Va.")]
    assert [str(x.message) for x in w] == [f"{path}: skipped {blanks} blank line(s) ({shown})"]
    # stacklevel 3: past read_inputs and read_file, to the line that called read_file; under
    # mutmut the trampoline's two frames come first, and level 3 is its outer frame
    trampolined = tdmod.read_inputs.__code__.co_filename.endswith("trampoline.py")
    assert w[0].filename == (tdmod.read_inputs.__code__.co_filename if trampolined
                             else __file__)
    line = linecache.getline(w[0].filename, w[0].lineno)
    assert ("return trampoline(*args" if trampolined else "p.read_file(path)") in line


def test_read_inputs_keeps_a_tabbed_lines_utf8_problem(tmp_path):
    path = tmp_path / "refs.tsv"
    path.write_bytes(b"Hi.\tSalut.\nGo\xff.\tVa.\n")
    lines = tdmod.read_inputs(path, False)
    assert [(x.text, x.reference) for x in lines] == [("Hi.", "Salut."), ("Go\ufffd.", "Va.")]
    assert [x.problem for x in lines] == [
        "", "line 2: not valid UTF-8 (byte 0xff at offset 2); invalid bytes read as U+FFFD"]
