"""The captioning task (rnnkit/tasks/captioning.py) in detail, on untrained models (no
training run): the config's defaults, bounds and check, the shapes and Flickr contexts, the
tensors of a split, BLEU and exact-attribute accuracy computed by hand, the report's lines,
and the predictor's read_file, predict and plot against hand-run model calls (found by
mutation testing, benchmarks/mutation.py)."""

from __future__ import annotations

import re
from dataclasses import fields
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import rnnkit.tasks.captioning as cmod
from rnnkit.data import shapes
from rnnkit.data.flickr import load_flickr, read_image, split_names
from rnnkit.data.tokenizers import WordTokenizer
from rnnkit.tasks import TASKS, TaskError
from rnnkit.tasks.captioning import (
    BOS,
    EOS,
    SHAPES_TOKENIZER,
    CaptionData,
    CaptioningConfig,
    caption_figures,
    corpus_bleu,
    to_tensors,
)
from rnnkit.tasks.datafiles import split_items
from rnnkit.tasks.runner import config_from_raw
from rnnkit.training.config import RunConfig

sacrebleu = pytest.importorskip("sacrebleu")
TASK = TASKS["captioning"]


def _config(model=None, batch_size=2, **task):
    task = {"name": "captioning", "train_images": 4, "val_images": 3, "test_images": 5,
            **task}
    return config_from_raw({
        "name": "c", "seed": 0, "task": task,
        "model": {"cell": "gru", "hidden_size": 6, "channels": [4, 4, 4], "feature_size": 6,
                  "embedding_dim": 4, **(model or {})},
        "train": {"steps": 1, "batch_size": batch_size, "threads": 1, "progress": "off"},
        "diagnostics": {"every": 0}}, "test")


def _model(ctx, seed=0):
    torch.manual_seed(seed)
    return TASK.build_model(ctx).eval()


def _predictor(seed=0, **kw):
    ctx = TASK.setup(_config(**kw))
    model = _model(ctx, seed)
    return TASK.predictor(ctx, model, TASK.info(ctx, model))


def _flickr(root, n=10, lines=None):
    (root / "Images").mkdir(parents=True)
    for i in range(n):
        pixels = np.full((20, 24, 3), 20 * i, np.uint8)
        pixels[:, :5] = 255
        Image.fromarray(pixels).save(root / "Images" / f"{i}.png")
    lines = lines or [f"{i}.png#{k}\ta dog " + (f"number {i} runs" if k else "runs")
                      for i in range(n) for k in range(2)]
    (root / "captions.txt").write_text("\n".join(lines) + "\n")
    return root


def _scene_png(tmp_path, k=0, name=None):
    path = tmp_path / (name or f"s{k}.png")
    Image.fromarray(shapes.make_split("test", k + 1).images[k].transpose(1, 2, 0)).save(path)
    return path


# -- config ----------------------------------------------------------------------------------
def test_config_defaults_and_bounds():
    cfg = CaptioningConfig()
    assert (cfg.name, cfg.data_dir, cfg.captions_file, cfg.image_size, cfg.train_images,
            cfg.val_images, cfg.test_images, cfg.data_seed, cfg.max_objects, cfg.max_images,
            cfg.min_freq, cfg.max_tokens, cfg.beam_size) == (
        "captioning", "", "", 64, 6000, 500, 1000, 0, 3, 0, 1, 30, 1)
    bounds = {f.name: (f.metadata.get("min"), f.metadata.get("max")) for f in fields(cfg)}
    assert (cfg.data, cfg.train_data, cfg.val_data, cfg.test_data, cfg.split_seed,
            cfg.val_fraction, cfg.test_fraction) == ("", "", "", "", 0, 0.1, 0.1)
    assert bounds == {"name": (None, None), "data_dir": (None, None), "data": (None, None),
                      "train_data": (None, None), "val_data": (None, None),
                      "test_data": (None, None), "split_seed": (None, None),
                      "val_fraction": (0.01, 0.5), "test_fraction": (0.01, 0.5),
                      "captions_file": (None, None), "image_size": (16, None),
                      "train_images": (1, None), "val_images": (1, None),
                      "test_images": (1, None), "data_seed": (None, None),
                      "max_objects": (1, 3), "max_images": (0, None), "min_freq": (1, None),
                      "max_tokens": (1, None), "beam_size": (1, None)}


def test_check_names_the_shapes_image_size_only_for_shapes(tmp_path):
    def check(**task):
        return TASK.check(RunConfig(name="t", task=CaptioningConfig(**task)))

    assert check() == [] and check(image_size=64) == []
    assert check(image_size=32) == [
        "task.image_size = 32: the shapes scenes are 64x64"]
    assert check(image_size=32, data=str(tmp_path)) == []
    assert check(image_size=32, data_dir=str(tmp_path)) == []  # the former name of data
    assert check(image_size=32, train_data=str(tmp_path), test_data=str(tmp_path)) == []


def test_the_data_keys_follow_every_tasks_convention(tmp_path):
    def check(**task):
        return TASK.check(RunConfig(name="t", task=CaptioningConfig(**task)))

    folder = str(tmp_path)
    assert CaptioningConfig(data_dir=folder).data == folder  # read as task.data
    assert check(data=folder, data_dir=folder) == [
        "task.data_dir is the former name of task.data: set one of them"]
    assert check(train_data=folder) == [
        "task.train_data needs task.test_data too (or name the whole set with task.data, "
        "split by task.split_seed)"]
    assert check(data=str(tmp_path / "nowhere")) == [
        f"task.data = {str(tmp_path / 'nowhere')!r}: no such file or folder"]


def test_task_attributes_and_model_args():
    assert (TASK.name, TASK.model_class) == ("captioning", "ImageCaptioner")
    assert TASK.config_class is CaptioningConfig
    assert TASK.capabilities == frozenset({"caption", "plot"})
    assert TASK.fixed_model_args == frozenset(
        {"vocab_size", "image_size", "bos_id", "eos_id", "pad_id"})
    ctx = TASK.setup(_config())
    assert isinstance(ctx, cmod.CaptioningContext)
    assert TASK.model_args(ctx) == {"vocab_size": len(SHAPES_TOKENIZER.vocab),
                                    "image_size": 64, "bos_id": BOS, "eos_id": EOS,
                                    "pad_id": 0}
    assert (BOS, EOS) == (SHAPES_TOKENIZER.vocab.stoi["<bos>"],
                          SHAPES_TOKENIZER.vocab.stoi["<eos>"])
    model = _model(ctx)
    info = TASK.info(ctx, model)
    assert info["tokenizer"] == SHAPES_TOKENIZER.to_dict()
    assert info["task"]["name"] == "captioning"


# -- context and tensors -------------------------------------------------------------------
def test_shapes_parts_are_the_generator_splits():
    ctx = TASK.setup(_config(data_seed=3, max_objects=2))
    parts = ctx.parts
    assert list(parts) == ["train", "val", "test"]
    for split, n in (("train", 4), ("val", 3), ("test", 5)):
        want = shapes.make_split(split, n, 3, 2)
        np.testing.assert_array_equal(parts[split].images, want.images)
        assert parts[split].captions == want.captions
        assert parts[split].scenes == want.scenes
    assert ctx.tokenizer is SHAPES_TOKENIZER


def test_flickr_parts_and_tokenizer(tmp_path):
    root = _flickr(tmp_path / "f")
    ctx = TASK.setup(_config(data=str(root), image_size=16, split_seed=2, max_images=9,
                             min_freq=2, captions_file="captions.txt", data_seed=5))
    names, images, captions, _ = load_flickr(root, size=16, captions_file="captions.txt",
                                             max_images=9)
    assert len(names) == 9
    idx = split_names(str(root), names, seed=2)
    assert idx != split_names(str(root), names, seed=0)
    assert set(ctx.parts) == {"train", "val", "test"}
    for split, rows in idx.items():
        np.testing.assert_array_equal(ctx.parts[split].images, images[rows])
        assert ctx.parts[split].captions == [captions[i] for i in rows]
        assert ctx.parts[split].scenes is None
    train = [c for caps in ctx.parts["train"].captions for c in caps]
    assert ctx.tokenizer.to_dict() == WordTokenizer.fit(train, min_freq=2).to_dict()
    # each image's number is one word of the training captions: min_freq=2 drops it
    assert ctx.tokenizer.to_dict() != WordTokenizer.fit(train, min_freq=1).to_dict()


def test_a_captions_file_of_another_name_is_read_by_task_captions_file(tmp_path):
    root = _flickr(tmp_path / "f", n=4)
    (root / "captions.txt").rename(root / "mine.txt")  # (no name the loader looks for)
    ctx = TASK.setup(_config(train_data=str(root), val_data=str(root), test_data=str(root),
                             image_size=16, captions_file="mine.txt", max_images=3))
    _, images, captions, _ = load_flickr(root, size=16, captions_file="mine.txt", max_images=3)
    assert len(captions) == 3 and ctx.parts["test"].captions == captions
    np.testing.assert_array_equal(ctx.parts["train"].images, images)


def test_a_flickr_error_is_a_task_error_with_its_message(tmp_path):
    (tmp_path / "empty").mkdir()  # a folder without a captions file
    ctx = TASK.setup(_config(data=str(tmp_path / "empty"), image_size=16))
    with pytest.raises(TaskError) as e:
        _ = ctx.parts
    assert "empty" in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_a_folder_per_part_puts_every_image_of_it_in_its_part(tmp_path):
    train, test = _flickr(tmp_path / "train", n=10), _flickr(tmp_path / "test", n=3)
    for name in ("Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt",
                 "Flickr_8k.testImages.txt"):  # split lists inside a part's folder are not
        (train / name).write_text("0.png\n")  # read: the folder is one part
    ctx = TASK.setup(_config(train_data=str(train), test_data=str(test), image_size=16,
                             captions_file="captions.txt", split_seed=4))
    _, images, captions, _ = load_flickr(train, size=16, captions_file="captions.txt")
    _, t_images, t_captions, _ = load_flickr(test, size=16, captions_file="captions.txt")
    parts = ctx.parts
    np.testing.assert_array_equal(parts["test"].images, t_images)
    assert parts["test"].captions == t_captions
    rest, val = split_items(list(range(10)), 5, 0.1, shuffle="torch")  # carved: seed + 1
    assert len(val) == 1
    np.testing.assert_array_equal(parts["val"].images, images[val])
    np.testing.assert_array_equal(parts["train"].images, images[rest])
    assert parts["train"].captions == [captions[i] for i in rest]
    ctx = TASK.setup(_config(train_data=str(train), test_data=str(test), val_data=str(test),
                             image_size=16, captions_file="captions.txt"))
    assert len(ctx.parts["train"].captions) == 10 and len(ctx.parts["val"].captions) == 3


def test_to_tensors_by_hand():
    tok = SHAPES_TOKENIZER
    part = CaptionData(np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2),
                       [["a red circle", "a big blue square is left of a red circle"],
                        ["a square"]])
    out = to_tensors(part, tok, max_tokens=4)
    assert set(out) == {"image", "y", "lengths"}
    assert out["image"].dtype == torch.uint8
    np.testing.assert_array_equal(out["image"].numpy(), part.images)
    e = tok.encode
    rows = [[e("a red circle") + [EOS], e("a big blue square")[:4] + [EOS]],
            [e("a square") + [EOS], []]]
    assert out["y"].shape == (2, 2, 5) and out["y"].dtype == torch.long
    assert out["lengths"].tolist() == [[4, 5], [3, 0]]
    for i, row in enumerate(rows):
        for r, seq in enumerate(row):
            assert out["y"][i, r].tolist() == seq + [0] * (5 - len(seq))
    scenes = shapes.make_split("val", 2).scenes
    with_scenes = to_tensors(CaptionData(part.images, part.captions, scenes), tok, 30)
    np.testing.assert_array_equal(with_scenes["scene"].numpy(), shapes.scene_array(scenes))
    assert with_scenes["y"].shape[2] == len(e("a big blue square is left of a red circle")) + 1


def test_splits_use_max_tokens():
    ctx = TASK.setup(_config(max_tokens=2))
    data = TASK.make_splits(ctx)
    assert set(data) == {"train", "val", "test"}
    want = to_tensors(ctx.parts["val"], SHAPES_TOKENIZER, 2)
    assert data["val"]["y"].shape[2] == 3
    for k in want:
        assert torch.equal(data["val"][k], want[k])


# -- BLEU and the evaluation's figures -----------------------------------------------------
def test_corpus_bleu_pads_missing_references_and_tokenizes_13a():
    hyps = ["a dog runs.", "a cat sits on the mat today"]
    refs = [["a dog runs .", "the dog runs"], ["a cat sits on the mat now"]]
    want = sacrebleu.corpus_bleu(hyps, [["a dog runs .", "a cat sits on the mat now"],
                                        ["the dog runs", None]]).score
    assert corpus_bleu(hyps, refs) == pytest.approx(want)
    assert corpus_bleu(hyps, refs) != pytest.approx(corpus_bleu(hyps, refs, "none"))
    assert corpus_bleu(hyps, refs, "none") == pytest.approx(sacrebleu.corpus_bleu(
        hyps, [["a dog runs .", "a cat sits on the mat now"], ["the dog runs", None]],
        tokenize="none").score)
    assert isinstance(corpus_bleu(hyps, refs), float)


def _figures_by_hand(model, data, tok):
    hyps = model.greedy(data["image"], data["y"].shape[2] + 5)

    def text(ids):
        ids = [i for i in ids if i != EOS]
        return tok.decode(ids) if tok else " ".join(map(str, ids))

    refs = [[text(data["y"][i, r, :n].tolist()) for r, n in enumerate(data["lengths"][i])
             if n > 0] for i in range(len(hyps))]
    return [text(h) for h in hyps], refs


@pytest.mark.parametrize("seed", [0, 3])
def test_caption_figures_by_hand(seed):
    ctx = TASK.setup(_config())
    model = _model(ctx, seed)
    data = TASK.batches(ctx)["test"]
    hyps, refs = _figures_by_hand(model, data, SHAPES_TOKENIZER)
    model.train()
    figures = caption_figures(model, data, 2, SHAPES_TOKENIZER)
    assert not model.training
    assert set(figures) == {"bleu", "exact_attribute_accuracy"}
    assert figures["bleu"] == pytest.approx(corpus_bleu(hyps, refs))
    scenes = ctx.parts["test"].scenes
    right = sum(shapes.caption_correct(h, s) for h, s in zip(hyps, scenes))
    assert figures["exact_attribute_accuracy"] == pytest.approx(right / 5)
    # (a caption that is right: the accuracy counts it)
    monkey = SimpleNamespace(eval=lambda: None, parameters=model.parameters,
                             greedy=lambda images, n: [SHAPES_TOKENIZER.encode(
                                 ctx.parts["test"].captions[0][0])] + [[]] * (len(images) - 1))
    one = caption_figures(monkey, {**data, "image": data["image"][:1], "y": data["y"][:1],
                                   "lengths": data["lengths"][:1],
                                   "scene": data["scene"][:1]}, 2, SHAPES_TOKENIZER)
    assert one == {"bleu": pytest.approx(100.0), "exact_attribute_accuracy": 1.0}
    assert TASK.extra_metrics(ctx, model, "test") == figures


def test_caption_figures_on_word_ids_without_a_tokenizer():
    ctx = TASK.setup(_config())
    model = _model(ctx, 1)
    data = {k: v for k, v in TASK.batches(ctx)["val"].items() if k != "scene"}
    hyps, refs = _figures_by_hand(model, data, None)
    figures = caption_figures(model, data, 2)
    assert figures == {"bleu": pytest.approx(corpus_bleu(hyps, refs, "none"))}
    # the references' ids, eos left out, are what the hypothesis is compared with
    y = data["y"]
    perfect = SimpleNamespace(eval=lambda: None, parameters=model.parameters,
                              greedy=lambda images, n: [
                                  y[i, 0, :data["lengths"][i, 0]].tolist()
                                  for i in range(len(images))])
    assert caption_figures(perfect, data, 3) == {"bleu": pytest.approx(100.0)}


def test_flickr_extra_metrics_compare_word_ids(tmp_path):
    root = _flickr(tmp_path / "f")
    ctx = TASK.setup(_config(data_dir=str(root), image_size=16, batch_size=3))
    model = _model(ctx, 2)
    data = TASK.batches(ctx)["val"]
    assert "scene" not in data
    hyps, refs = _figures_by_hand(model, data, None)
    assert TASK.extra_metrics(ctx, model, "val") == {
        "bleu": pytest.approx(corpus_bleu(hyps, refs, "none"))}


# -- report ----------------------------------------------------------------------------------
@pytest.mark.parametrize("beam, n_test", [(2, 3), (1, 14)])
def test_report_sections_by_hand(beam, n_test):
    ctx = TASK.setup(_config(beam_size=beam, max_tokens=4, test_images=n_test))
    model = _model(ctx)
    n = min(12, n_test)
    r = model.caption(TASK.batches(ctx)["test"]["image"][:n], beam_size=beam, max_len=4)
    caps = ctx.parts["test"].captions
    assert TASK.report_sections(ctx, model) == [
        f"## Test captions (beam {beam})", "", "| # | generated | a reference |", "|---|---|---|",
        *(f"| {i} | {SHAPES_TOKENIZER.decode(r.tokens[i])} | {caps[i][0]} |"
          for i in range(n))]


# -- predictor -------------------------------------------------------------------------------
def test_read_file_an_image_a_folder_and_a_data_folder(tmp_path):
    p = _predictor()
    assert p.read_file(tmp_path / "x.png") == [str(tmp_path / "x.png")]
    data = tmp_path / "data"
    for d in ("Flickr8k_Dataset", "images"):
        (data / d).mkdir(parents=True)
    a = _scene_png(data / "Flickr8k_Dataset", 0, "b.PNG")
    b = _scene_png(data / "Flickr8k_Dataset", 1, "a.jpg")
    _scene_png(data / "images", 0, "c.png")
    (data / "Flickr8k_Dataset" / "notes.txt").write_text("x")
    assert p.read_file(data) == [str(b), str(a)]
    flat = tmp_path / "flat"
    flat.mkdir()
    c = _scene_png(flat, 0, "z.png")
    assert p.read_file(flat) == [str(c)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskError, match=r"empty: no image file \(\.jpg, \.jpeg"):
        p.read_file(tmp_path / "empty")


def test_predict_by_hand(tmp_path):
    p = _predictor(seed=4, beam_size=2, max_tokens=5)
    image = _scene_png(tmp_path, 1)
    r_missing = tmp_path / "missing.png"
    records = p.predict([str(image), r_missing, image], beam=None)
    assert len(records) == 3 and records[2] == records[0]
    assert records[1]["file"] == str(r_missing) and set(records[1]) == {"file", "error"}
    assert "missing.png" in records[1]["error"]
    pixels = torch.from_numpy(read_image(image, 64))[None]
    r = p.model.caption(pixels, beam_size=2, max_len=5)
    words = SHAPES_TOKENIZER.vocab.decode(r.tokens[0])
    want = r.attention[0].view(len(words), *p.model.feature_shape)
    rec = records[0]
    assert set(rec) == {"file", "caption", "tokens", "attention"}
    assert rec["file"] == str(image)
    assert rec["caption"] == SHAPES_TOKENIZER.decode(r.tokens[0])
    assert rec["tokens"] == words
    assert [[[round(float(v), 6) for v in row] for row in w] for w in want] == rec["attention"]
    assert p.predict(image) == [rec] == p.predict(str(image), beam="2")
    greedy = p.model.caption(pixels, beam_size=1, max_len=5)
    assert p.predict([image], beam=1)[0]["tokens"] == SHAPES_TOKENIZER.vocab.decode(
        greedy.tokens[0])
    with pytest.raises(TaskError, match=re.escape("--beam must be at least 1, got 0")):
        p.predict([image], beam=0)
    with pytest.raises(TaskError, match=re.escape(
            "input 1: give an image file path, got int")):
        p.predict([str(image), 3])


def test_predict_without_attention(tmp_path):
    p = _predictor(model={"attention": "none"})
    (rec,) = p.predict([_scene_png(tmp_path)])
    assert rec["attention"] is None and rec["tokens"] == rec["caption"].split()
    message = 'this model does not attend (attention = "none"): no attention to plot'
    with pytest.raises(TaskError, match=re.escape(message)):
        p.plot(rec, tmp_path / "p.png")
    with pytest.raises(TaskError, match=re.escape("nothing to plot: broken")):
        p.plot({"file": "x", "error": "broken"}, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_plot_lays_each_words_attention_over_the_image(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []

    def subplots(*args, **kw):
        fig, axes = plt.subplots(*args, **kw)
        figs.append((args, kw, fig))
        return fig, axes

    monkeypatch.setattr(cmod, "pyplot", lambda: SimpleNamespace(subplots=subplots,
                                                                close=plt.close))
    p = _predictor()
    image = _scene_png(tmp_path, 2)
    words = ["a", "b", "c", "d", "e", "f"]
    attention = torch.rand(6, *p.model.feature_shape)
    rec = {"file": str(image), "caption": "a b c d e f", "tokens": words,
           "attention": attention.tolist()}
    out = p.plot(rec, tmp_path / "deep" / "er" / "plot.png")
    assert out == tmp_path / "deep" / "er" / "plot.png" and out.is_file()
    with Image.open(out) as im:
        assert im.size == (2 * 6 * 80, round(2.2 * 2 * 80))
    ((args, kw, fig),) = figs
    assert args == (2, 6) and kw == {"figsize": (12, 2.2 * 2), "squeeze": False}
    axes = fig.axes
    pixels = read_image(image, 64).transpose(1, 2, 0)
    assert [ax.get_title() for ax in axes] == ["image", *words, "", "", "", "", ""]
    assert all(not ax.axison for ax in axes)
    assert {ax.title.get_fontsize() for ax in axes[:7]} == {9}
    np.testing.assert_array_equal(axes[0].get_images()[0].get_array(), pixels)
    assert all(ax.get_images() == [] for ax in axes[7:])
    for k, ax in enumerate(axes[1:7]):
        base, heat = ax.get_images()
        np.testing.assert_array_equal(base.get_array(), pixels)
        want = F.interpolate(torch.tensor(rec["attention"][k])[None, None], size=(64, 64),
                             mode="bilinear", align_corners=False)[0, 0]
        np.testing.assert_allclose(heat.get_array(), want.numpy(), rtol=1e-6)
        assert heat.get_alpha() == 0.6 and heat.get_cmap().name == "inferno"
    assert not plt.fignum_exists(fig.number)
    # two words: one row of three
    figs.clear()
    p.plot({**rec, "tokens": words[:2], "attention": rec["attention"][:2]}, tmp_path / "b.png")
    assert figs[0][0] == (1, 3)
    with Image.open(tmp_path / "b.png") as im:
        assert im.size == (2 * 3 * 80, 2.2 * 80)
    with pytest.raises(TaskError, match="gone.png"):
        p.plot({**rec, "file": str(tmp_path / "gone.png")}, tmp_path / "c.png")


# -- what the first mutation run left --------------------------------------------------------
class _Fake:
    """A stand-in model: ``greedy`` gives ``hyps`` (the first ``len(images)`` of what is
    left) and records the device of each batch."""

    def __init__(self, hyps, device="cpu"):
        self.hyps, self.devices = list(hyps), []
        self.weight = torch.zeros(1, device=device)

    def eval(self):
        return self

    def parameters(self):
        return iter([self.weight])

    def greedy(self, images, max_len):
        self.devices.append(images.device)
        out, self.hyps = self.hyps[:len(images)], self.hyps[len(images):]
        return out


def test_the_images_go_to_the_models_device():
    data = {"image": torch.zeros(3, 3, 2, 2, dtype=torch.uint8),
            "y": torch.tensor([[[4, EOS]], [[5, EOS]], [[6, EOS]]]),
            "lengths": torch.tensor([[2], [2], [2]])}
    model = _Fake([[4], [5], [6]], device="meta")
    assert set(caption_figures(model, data, 2)) == {"bleu"}
    assert model.devices == [torch.device("meta")] * 2


def test_references_leave_out_missing_captions_but_keep_empty_ones():
    tok = SHAPES_TOKENIZER
    caps = [["a large red circle", ""], ["a small blue square to the left of a red circle"],
            ["a red circle", "a blue square", "there is a red circle"], ["a red circle"]]
    part = CaptionData(np.zeros((4, 3, 2, 2), np.uint8), caps)
    data = to_tensors(part, tok, 30)
    # (words dropped: the order matters, not just the words)
    words = ["red", "small blue square to the left of a circle", "blue square", "red"]
    e = tok.encode
    hyps = [e(w) for w in words]
    figures = caption_figures(_Fake(hyps), data, 2)
    ids = [" ".join(map(str, h)) for h in hyps]
    refs = [[" ".join(map(str, e(c))) for c in row] for row in caps]
    assert refs[0][1] == ""
    want = corpus_bleu(ids, refs, "none")
    assert figures == {"bleu": pytest.approx(want)}
    texts = caption_figures(_Fake(hyps), data, 3, tok)
    assert texts == {"bleu": pytest.approx(corpus_bleu(words, caps))}
    # the empty caption and the missing ones count (all "" or none):
    assert want != pytest.approx(corpus_bleu(ids, [[r for r in row if r] for row in refs]))
    assert want != pytest.approx(corpus_bleu(ids, [row + [""] * (3 - len(row))
                                                   for row in refs]))


def test_with_a_tokenizer_texts_are_compared_after_13a_tokenisation():
    class Commas:
        """decodes ids as words joined by commas: 13a splits them, "none" does not."""

        def decode(self, ids):
            return ",".join(chr(ord("a") + i) for i in ids)

    data = {"image": torch.zeros(2, 3, 2, 2, dtype=torch.uint8),
            "y": torch.tensor([[[4, 5, 6, 7, EOS]], [[8, 9, 10, 11, EOS]]]),
            "lengths": torch.tensor([[5], [5]])}
    hyps = [[4, 5, 6, 9], [8, 9, 10, 11]]
    figures = caption_figures(_Fake(hyps), data, 2, Commas())
    hyp_text, refs = ["e,f,g,j", "i,j,k,l"], [["e,f,g,h"], ["i,j,k,l"]]
    want = corpus_bleu(hyp_text, refs)
    assert want != pytest.approx(corpus_bleu(hyp_text, refs, "none"))
    assert figures == {"bleu": pytest.approx(want)}


def test_exact_attribute_accuracy_is_a_share_and_needs_scenes_and_a_tokenizer():
    ctx = TASK.setup(_config())
    data = TASK.batches(ctx)["test"]
    caps = ctx.parts["test"].captions
    hyps = [SHAPES_TOKENIZER.encode(caps[0][0]), SHAPES_TOKENIZER.encode(caps[1][0]),
            [], [], []]
    figures = caption_figures(_Fake(hyps), data, 2, SHAPES_TOKENIZER)
    assert figures["exact_attribute_accuracy"] == pytest.approx(2 / 5)
    assert set(caption_figures(_Fake(hyps), data, 2)) == {"bleu"}
    no_scene = {k: v for k, v in data.items() if k != "scene"}
    assert set(caption_figures(_Fake(hyps), no_scene, 2, SHAPES_TOKENIZER)) == {"bleu"}


def test_extra_metrics_pass_the_tokenizer_only_for_shapes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cmod, "caption_figures", lambda *a: calls.append(a) or {"x": 1})
    root = _flickr(tmp_path / "f")
    ctx = TASK.setup(_config(data_dir=str(root), image_size=16, batch_size=3))
    model = _model(ctx)
    assert TASK.extra_metrics(ctx, model, "val") == {"x": 1}
    ((m, data, batch_size, tok),) = calls
    assert m is model and data is TASK.batches(ctx)["val"] and batch_size == 3 and tok is None
    shapes_ctx = TASK.setup(_config())
    TASK.extra_metrics(shapes_ctx, model, "test")
    assert calls[1][3] is SHAPES_TOKENIZER and calls[1][2] == 2


def test_a_missing_sacrebleu_names_the_text_extra(monkeypatch):
    import sys

    from rnnkit._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[text\]'"):
        corpus_bleu(["a"], [["a"]])


def test_the_predictor_knows_its_task_and_run_dir(tmp_path):
    ctx = TASK.setup(_config())
    model = _model(ctx)
    p = TASK.predictor(ctx, model, TASK.info(ctx, model), tmp_path)
    assert isinstance(p, cmod.CaptioningPredictor)
    assert p.task == "captioning" and p.run_dir == tmp_path and p.model is model
    assert TASK.predictor(ctx, model, {}).run_dir is None
