"""Translation and the character LM on a user's own text: scripts with combining marks and
emoji in the word tokenizer, Unicode normal forms in references, extreme sampling
temperatures, and the errors a malformed text file gets."""

import gzip
import linecache
import re
import unicodedata
import warnings
import zipfile

import pytest
import torch

from rnnkit.data.datasets import DataError
from rnnkit.data.text import read_parallel
from rnnkit.data.tokenizers import WordTokenizer
from rnnkit.models.sampling import sample_logits
from rnnkit.tasks import TASKS, TaskError, attention_plot
from rnnkit.tasks.charlm import read_text
from rnnkit.tasks.runner import config_from_raw
from rnnkit.tasks.translation import bleu_chrf
from rnnkit.tasks.translation_data import split_pairs


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_the_word_tokenizer_keeps_combining_marks_and_emoji_in_their_token():
    words = {
        "हिन्दी भाषा": ["हिन्दी", "भाषा"],  # Devanagari vowel signs and virama (Mn, Mc)
        "مَرْحَبًا بِكَ": ["مَرْحَبًا", "بِكَ"],  # Arabic harakat
        "שָׁלוֹם עולם": ["שָׁלוֹם", "עולם"],  # Hebrew niqqud
        "ที่นี่ ดี": ["ที่นี่", "ดี"],  # Thai tone marks
    }
    for text, tokens in words.items():
        assert WordTokenizer.split(text) == tokens, text
        tok = WordTokenizer.fit([text])
        assert tok.decode(tok.encode(text)) == unicodedata.normalize("NFC", text), text
    others = {
        "I ❤️ 👍🏽 🇫🇷🇩🇪 👨\u200d👩\u200d👧 1️⃣": ["i", "❤️", "👍🏽", "🇫🇷", "🇩🇪",
                                               "👨\u200d👩\u200d👧", "1️⃣"],
        "n\u0308 ok, l'homme!": ["n\u0308", "ok", ",", "l'", "homme", "!"],  # no NFC form
        "\u0301 a": ["\u0301", "a"],  # a mark with nothing before it stays a token
    }
    for text, tokens in others.items():
        assert WordTokenizer.split(text) == tokens, text


def test_references_in_decomposed_unicode_score_as_the_same_text(tmp_path):
    # macOS and some tools write NFD; both tokenizers output NFC
    hyp = "Le café est très bon à Noël."
    assert bleu_chrf([hyp], [[nfd(hyp)]]) == pytest.approx({"bleu": 100, "chrf": 100})
    assert bleu_chrf([nfd(hyp)], [["x", hyp]]) == pytest.approx({"bleu": 100, "chrf": 100})
    path = tmp_path / "pairs.tsv"
    path.write_text(f"Noël\tNoël\n{nfd('Noël')}\t{nfd('Noël !')}\n", encoding="utf-8")
    # one source with two references (a source split as two would leak across the split)
    assert read_parallel(path).pairs == [("Noël", "Noël"), ("Noël", "Noël !")]


def test_a_tiny_temperature_samples_the_most_likely_token():
    # logits / 1e-300 overflow to inf, and softmax of inf is NaN (torch.multinomial failed)
    logits = torch.tensor([[0.5, 2.0, -1.0, 1.9], [3.0, -2.0, 0.0, 2.5]])
    g = torch.Generator().manual_seed(0)
    for temperature in (5e-324, 1e-300, 1e-40, 1e-30):
        out = sample_logits(logits, temperature=temperature, top_k=3, generator=g)
        assert out.tolist() == [1, 0]
    masked = torch.tensor([[float("-inf"), 1.0, 1.0 - 1e-3]])
    assert sample_logits(masked, temperature=1e-300, generator=g).tolist() == [1]


def test_a_text_with_bytes_that_are_not_utf8_names_its_line_and_column(tmp_path):
    bad = tmp_path / "notes.txt"
    for mark in (b"", b"\xef\xbb\xbf"):  # (Latin-1 é; with a byte-order mark too)
        bad.write_bytes(mark + b"first line\r\nsecond caf\xe9 line\n")
        with pytest.raises(DataError) as e:
            read_text(str(bad), "data")
        assert str(e.value) == (f"task.data = {str(bad)!r}, line 2, column 11: byte 0xe9 is "
                                "not UTF-8; save the file as UTF-8")


def test_a_text_too_short_names_its_file_and_the_keys_that_would_fit_it(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("hello world\n", encoding="utf-8")
    cfg = config_from_raw({"task": {"name": "charlm", "data": str(path), "window": 32,
                                    "val_streams": 4}}, "t")
    with pytest.raises(DataError) as e:
        TASKS["charlm"].batches(TASKS["charlm"].setup(cfg))
    assert str(e.value) == (
        f"task.text = {str(path)!r}: the text is too short: 10 training characters (need more "
        "than task.window = 32) and 2 validation characters (need more than task.val_streams "
        "= 4); give a longer text, or lower task.window and task.val_streams")


def _en_ja(tmp_path, **task):
    nouns = {"cats": "猫", "dogs": "犬", "apples": "りんご", "books": "本", "tea": "お茶"}
    subjects = {"I": "私は", "You": "あなたは", "He": "彼は", "She": "彼女は"}
    path = tmp_path / "en-ja.tsv"
    path.write_text("".join(f"{s} like {n}.\t{s2}{n2}が好きです。\tCC-BY 2.0 (France)\n"
                            for s, s2 in subjects.items() for n, n2 in nouns.items()),
                    encoding="utf-8")
    return config_from_raw({"task": {"name": "translation", "data": str(path),
                                     "test_fraction": 0.2, "val_fraction": 0.2, **task}}, "t")


def test_text_without_spaces_between_words_warns_of_word_tokens_and_13a_bleu(tmp_path):
    # a Japanese sentence is one "word" (私は猫が好きです) and one 13a BLEU token: BLEU 0
    # for an exact translation
    assert bleu_chrf(["私は猫が好きです。"], [["私は猫が好きです。"]], "13a")["bleu"] == 0
    with pytest.warns(UserWarning) as record:
        split_pairs(_en_ja(tmp_path).task)
    messages = [str(w.message) for w in record]
    for w in record:
        _at_the_caller(w, split_pairs, "split_pairs(")
    assert re.fullmatch(
        r"the target sentences are written without spaces between words \(e\.g\. '\w+が好き"
        r"です。'\): task\.tokenizer = 'word' makes each phrase one token; set "
        r"task\.tokenizer = 'subword'", messages[0])
    assert messages[1:] == [
        "the target sentences are written without spaces between words: task.bleu_tokenize "
        "= '13a' reads each as about one word, so BLEU is 0 even for exact translations; set "
        "task.bleu_tokenize = 'zh' (Chinese) or 'char' (Japanese, Thai, ...)"]
    with pytest.warns(UserWarning, match="the source sentences are written without spaces"):
        split_pairs(_en_ja(tmp_path, reverse=True, bleu_tokenize="intl").task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split_pairs(_en_ja(tmp_path, tokenizer="subword", bleu_tokenize="char").task)


def _charlm(tmp_path, text: str):
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    cfg = config_from_raw({"task": {"name": "charlm", "data": str(path), "window": 8,
                                    "val_streams": 2},
                           "model": {"hidden_size": 6, "embedding_dim": 4}}, "t")
    task = TASKS["charlm"]
    ctx = task.setup(cfg)
    torch.manual_seed(0)
    model = task.build_model(ctx)
    return task.predictor(ctx, model, task.info(ctx, model))


def test_generate_without_a_prompt_on_a_text_without_newlines_says_so(tmp_path, capsys):
    p = _charlm(tmp_path, "ACGTTGCA" * 40)  # (a DNA sequence: one line, no newline)
    assert "".join(p.generate(max_new=5, temperature=0)).startswith("\n")
    assert capsys.readouterr().err == (
        "warning: the training text holds no newline, which generation starts from when "
        "given no prompt (read as <unk>); give one (--prompt)\n")
    "".join(p.generate("AC\n", max_new=2))
    assert capsys.readouterr().err == ("warning: --prompt: characters not in the training "
                                       "text read as <unk>: '\\n'\n")


def test_generate_gives_max_new_characters_however_hot_the_sampling(tmp_path):
    # <pad>, <unk>, <bos>, <eos> decode to "": sampled at a high temperature, they made
    # the text shorter than max_new (and fed the model a token no text holds)
    p = _charlm(tmp_path, "the cat sat on the mat.\n" * 20)
    for seed in range(3):
        pieces = list(p.generate("the", max_new=60, temperature=50, seed=seed))
        assert pieces[0] == "the" and len(pieces) == 61
        assert all(len(c) == 1 and c in p.tokenizer.vocab.stoi for c in pieces[1:])
    model = p.model
    prompt = torch.tensor([[4, 5], [6, 7]])  # (B, T0): every row of a batch
    out = model.generate(prompt, 80, temperature=50, never=[0, 1, 2, 3])  # (2, 80)
    assert out.shape == (2, 80) and int(out.min()) >= 4
    last = len(p.tokenizer.vocab) - 1
    greedy = model.generate(prompt, 5, temperature=0, never=list(range(last)))
    assert greedy.tolist() == [[last] * 5] * 2


def test_sources_longer_than_max_tokens_are_cut_with_a_warning(tmp_path):
    (tmp_path / "train.tsv").write_text(
        "a b c\tx y z\n" * 6 + "a b c a b c a b\tx y z x y z x y\n", encoding="utf-8")
    for part in ("val", "test"):
        (tmp_path / f"{part}.tsv").write_text("a b\tx y\nb c\ty z\n", encoding="utf-8")
    cfg = config_from_raw({"task": {
        "name": "translation", "min_freq": 1, "max_tokens": 5,
        **{f"{part}_data": str(tmp_path / f"{part}.tsv") for part in ("train", "val", "test")}}},
        "t")
    task = TASKS["translation"]
    with pytest.warns(UserWarning) as record:
        data = task.batches(task.setup(cfg))
    assert [str(w.message) for w in record] == [
        "1 of the 7 training pairs: a source of task.max_tokens = 5 tokens or more; longer "
        "sources are cut to it (their targets are not), so the model learns to say what it "
        "never read; raise task.max_tokens to keep them whole"]
    assert data["train"]["x"].shape[1] == 5 and data["test"]["x"].shape[1] == 2
    with pytest.warns(UserWarning) as record:
        task.make_splits(task.setup(cfg))
    _at_the_caller(record[0], type(task).make_splits, "task.make_splits(")


def _at_the_caller(w, function, call: str) -> None:
    """``w`` points at the line of this file that called ``function`` (``call`` on it);
    under mutmut, whose trampoline (two frames) stands between, at the inner frame, whose
    line calls the function itself (the outer frame calls the inner)."""
    code = function.__code__
    trampolined = code.co_filename.endswith("trampoline.py")
    assert w.filename == (code.co_filename if trampolined else __file__)
    line = linecache.getline(w.filename, w.lineno)
    assert ("func(*call_args" if trampolined else call) in line


def test_charlm_reads_inputs_in_the_normal_form_of_its_training_text(tmp_path, capsys):
    # a text saved decomposed (NFD: e + U+0301), a prompt typed composed (NFC), or the reverse
    for train_form, input_form in (("NFD", "NFC"), ("NFC", "NFD")):
        text = unicodedata.normalize(train_form, "le café crème déçu\n" * 30)
        p = _charlm(tmp_path, text)
        typed = unicodedata.normalize(input_form, "café déçu")
        as_trained = unicodedata.normalize(train_form, typed)
        [record] = p.predict([typed])
        [expected] = p.predict([as_trained])
        assert "warning" not in record and record["text"] == typed
        assert record["loss"] == expected["loss"] and record["chars"] == expected["chars"]
        pieces = list(p.generate(typed, max_new=5, seed=1))
        assert pieces == [typed, *list(p.generate(as_trained, max_new=5, seed=1))[1:]]
        assert capsys.readouterr().err == ""
        s, t = p.stream(), p.stream()
        assert s.push(typed)["nats"] == t.push(as_trained)["nats"]
    [record] = p.predict(["Ωme"])  # a character no form of the text holds
    assert record["warning"] == "characters not in the training text read as <unk>: 'Ω'"


def test_a_corpus_with_old_mac_line_endings_is_read_line_by_line(tmp_path):
    # Excel for Mac's "Tab Delimited Text" ends lines with CR alone: the whole file was one
    # line, one pair, and training failed with "the val part holds no sentence pairs"
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"I see.\tJe vois.\r\rGo!\tVa !\rHi.\tSalut.\r\n")
    text = read_parallel(path)
    assert text.pairs == [("I see.", "Je vois."), ("Go!", "Va !"), ("Hi.", "Salut.")]
    assert text.lines == [1, 3, 4] and text.skipped == [2]
    path.write_bytes(b"I see.\tJe vois.\rGo!\r")
    with pytest.raises(DataError, match=r"pairs\.tsv:2: no tab; expected 'source<TAB>target', "
                                        r"got 'Go!'$"):
        read_parallel(path)


def test_a_part_too_small_to_hold_a_source_says_to_raise_its_fraction(tmp_path):
    # 4 sources: 10% of them rounds to none, and the advice was to *lower* the fractions
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"s{i}\tt{i}\n" for i in range(4)), encoding="utf-8")
    cfg = config_from_raw({"task": {"name": "translation", "data": str(path)}}, "t").task
    with pytest.raises(TaskError) as e:
        split_pairs(cfg)
    assert str(e.value) == (
        "the test part holds no sentence pairs: task.test_fraction = 0.1 of the 4 distinct "
        "sources rounds to none; give more data, raise task.test_fraction or set "
        "task.test_sources")
    cfg.test_sources = 1
    with pytest.raises(TaskError, match=r"^the val part holds no sentence pairs: "
                                        r"task\.val_fraction = 0\.1 of the 3 distinct"):
        split_pairs(cfg)
    cfg.val_fraction = 0.5
    assert [len(part) for part in split_pairs(cfg).values()] == [1, 2, 1]


def test_an_attention_plot_of_characters_no_font_has_warns_once(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(attention_plot, "FALLBACK_FONTS", ())  # as on a machine without them
    weights = [[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]]
    with pytest.warns(UserWarning) as record:  # (matplotlib warned once per glyph: 7 here)
        attention_plot.plot_attention(["i", "tea"], ["私は", "お茶", "が好き"], weights,
                                      tmp_path / "a.png")
    assert [str(w.message) for w in record] == [
        "the plot's fonts lack 7 character(s) of the tokens, drawn as boxes: 'おがきは好私茶'; "
        "install a font that has them where matplotlib finds it (Noto Sans CJK for Chinese "
        "and Japanese)"]
    # an installed fallback font is used for what the first lacks (matplotlib ships Last
    # Resort, which draws every character as a sign of its script)
    monkeypatch.setattr(attention_plot, "FALLBACK_FONTS", ("Last Resort High-Efficiency",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attention_plot.plot_attention(["i", "tea"], ["私は", "お茶", "が好き"], weights,
                                      tmp_path / "b.png")


def test_byte_order_marks_of_concatenated_files_are_no_text(tmp_path):
    # `cat a.tsv b.tsv > all.tsv` of two files saved with a BOM (Windows Notepad): the second
    # file's first source started with U+FEFF, a distinct source (and token) from the same
    # sentence elsewhere, so it could be trained on and tested on
    part = "\ufeffI see.\tJe vois.\nGo!\tVa !\n".encode()
    path = tmp_path / "all.tsv"
    path.write_bytes(part + part)
    assert read_parallel(path).pairs == [("I see.", "Je vois."), ("Go!", "Va !")] * 2


def test_held_out_text_with_characters_training_lacks_is_warned(tmp_path):
    # a test text in capitals for a model of lower-case text: scored silently as <unk>s
    (tmp_path / "train.txt").write_text("the cat sat on the mat\n" * 10, encoding="utf-8")
    (tmp_path / "test.txt").write_text("THE cat ate\n" * 4, encoding="utf-8")
    cfg = config_from_raw({"task": {"name": "charlm", "window": 8, "val_streams": 2,
                                    "train_data": str(tmp_path / "train.txt"),
                                    "test_data": str(tmp_path / "test.txt")}}, "t")
    task = TASKS["charlm"]
    with pytest.warns(UserWarning) as record:
        task.batches(task.setup(cfg))
    assert [str(w.message) for w in record] == [
        "the test text holds 12 of its 48 characters (3 distinct: 'EHT') that the training "
        "text lacks: they are read as <unk>, which the model never learns to predict"]
    cfg.task.test_data = ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task.batches(task.setup(cfg))


def test_an_archive_named_instead_of_its_text_file_says_to_extract_it(tmp_path):
    # manythings.org serves fra-eng.zip, which holds fra.txt; "save the file as UTF-8" was
    # the advice
    archive = tmp_path / "fra-eng.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("fra.txt", "Go.\tVa !\tCC-BY 2.0 (France)\n" * 50)
    with pytest.raises(DataError) as e:
        read_parallel(archive)
    assert str(e.value) == (f"{archive}: a zip archive, not a text file: extract the text "
                            "file it holds and name that")
    packed = tmp_path / "text.txt.gz"
    packed.write_bytes(gzip.compress(b"hello world\n" * 50))
    with pytest.raises(DataError) as e:
        read_text(str(packed))
    assert str(e.value) == (f"task.text = {str(packed)!r}: gzip-compressed, not a text file: "
                            "extract the text file it holds and name that")


def test_decoded_words_attach_the_punctuation_of_other_scripts():
    # the danda, Arabic comma and question mark, Urdu full stop, fullwidth and CJK marks,
    # Spanish inverted marks: "हूँ ।" was 13a BLEU 41.7 against "हूँ।" for an exact translation
    for text in ("मैं पानी चाहता हूँ।", "नमस्ते॥", "نعم، شكرا؟ لا؛ نعم.", "یہ کتاب ہے۔",
                 "¿Qué hora es? ¡Hola!", "(a) [b] {c}", "wait…", "«Oui» dit-il."):
        tok = WordTokenizer.fit([text], lower=False)
        assert tok.decode(tok.encode(text)) == text.replace("«Oui»", "« Oui »"), text
    hyp = WordTokenizer.fit(["मैं पानी चाहता हूँ।"], lower=False)
    assert bleu_chrf([hyp.decode(hyp.encode("मैं पानी चाहता हूँ।"))],
                     [["मैं पानी चाहता हूँ।"]])["bleu"] == pytest.approx(100)
