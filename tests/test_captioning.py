"""Image captioning: the shapes generator and grammar, the captioner model, the Flickr-layout
loader, and the task end to end (train, evaluate, caption)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rnnkit
import rnnkit.tasks
from rnnkit.cli.main import main
from rnnkit.data import shapes
from rnnkit.data.flickr import FlickrError, load_flickr, read_captions, split_names
from rnnkit.models import ConditionalGenerator
from rnnkit.models.captioner import ImageCaptioner
from rnnkit.tasks import evaluate_run, load_config, train_run
from rnnkit.tasks.captioning import SHAPES_TOKENIZER, CaptioningConfig, corpus_bleu, to_tensors


# -- the shapes generator and its grammar -----------------------------------------------------
def test_generator_is_deterministic_per_seed():
    a, b = shapes.make_split("train", 30, seed=3), shapes.make_split("train", 30, seed=3)
    assert np.array_equal(a.images, b.images) and a.captions == b.captions
    assert a.scenes == b.scenes
    c = shapes.make_split("train", 30, seed=4)
    assert not np.array_equal(a.images, c.images)
    test = shapes.make_split("test", 30, seed=3)
    assert not np.array_equal(a.images, test.images)  # each split has its own seed
    assert a.images.shape == (30, 3, 64, 64) and a.images.dtype == np.uint8
    assert all(len(caps) == 5 == len(set(caps)) for caps in a.captions)


def test_every_caption_parses_under_the_grammar_and_is_true():
    split = shapes.make_split("test", 200, seed=0)
    counts = {1: 0, 2: 0, 3: 0}
    for scene, caps in zip(split.scenes, split.captions):
        counts[len(scene.objects)] += 1
        for caption in shapes.all_captions(scene):
            shapes.parse_caption(caption)  # raises if outside the grammar
            assert shapes.caption_correct(caption, scene), (caption, scene)
        assert set(caps) <= set(shapes.all_captions(scene))
        for caption in caps:  # the tokenizer's vocabulary is the grammar's words
            ids = SHAPES_TOKENIZER.encode(caption)
            assert 1 not in ids and SHAPES_TOKENIZER.decode(ids) == caption
    assert min(counts.values()) > 20


def test_wrong_captions_are_caught():
    left, right = shapes.Obj("small", "red", "circle", 10, 30, 6), \
        shapes.Obj("large", "blue", "square", 45, 32, 11)
    scene = shapes.Scene((left, right), "h")
    assert shapes.caption_correct("a small red circle to the left of a large blue square", scene)
    assert shapes.caption_correct("a large blue square to the right of a red circle", scene)
    assert not shapes.caption_correct("a red circle to the right of a blue square", scene)
    assert not shapes.caption_correct("a red circle above a blue square", scene)
    assert not shapes.caption_correct("a large red circle and a blue square", scene)  # size
    assert not shapes.caption_correct("a green circle and a blue square", scene)  # colour
    assert not shapes.caption_correct("a red circle", scene)  # an object missing
    assert not shapes.caption_correct("a red circle to the left", scene)  # no parse
    with pytest.raises(shapes.CaptionParseError, match="a relation at word 4"):
        shapes.parse_caption("a red circle to left of a blue square")


def test_held_out_layouts_never_reach_training():
    train = shapes.make_split("train", 400, seed=0)
    test = shapes.make_split("test", 200, seed=0)
    seen = {s.signature() for s in train.scenes if len(s.objects) > 1}
    multi = [s for s in test.scenes if len(s.objects) > 1]
    assert multi and not any(s.signature() in seen for s in multi)
    train_caps = {c for caps, s in zip(train.captions, train.scenes) if len(s.objects) > 1
                  for c in caps}
    assert not any(c in train_caps for caps, s in zip(test.captions, test.scenes)
                   if len(s.objects) > 1 for c in caps)


def test_sacrebleu_multi_reference():
    refs = [["a red circle", "there is a red circle"], ["a blue square"]]
    assert corpus_bleu(["there is a red circle", "a blue square"], refs) == pytest.approx(100)
    assert corpus_bleu(["a green triangle", "two circles"], refs) < 20


# -- the model ------------------------------------------------------------------------------
def tiny_model(attention="luong", **kw) -> ImageCaptioner:
    return ImageCaptioner(vocab_size=len(SHAPES_TOKENIZER.vocab), channels=(8, 16, 16),
                          feature_size=32, hidden_size=48, embedding_dim=16, cell="lstm",
                          attention=attention, **kw)


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_beam_1_equals_greedy(attention):
    model = tiny_model(attention).eval()
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    greedy = model.greedy(images, max_len=12)
    beam = model.caption(images, beam_size=1, max_len=12)
    assert beam.tokens == greedy
    if attention == "none":
        assert beam.attention is None
    else:
        assert [a.shape for a in beam.attention] == [(len(t), 64) for t in greedy]
        assert all(torch.allclose(a.sum(-1), torch.ones(len(a))) for a in beam.attention)
    wide = model.caption(images, beam_size=4, max_len=12)
    assert len(wide.tokens) == 4


def test_conditional_generator_beam_search_without_memory():
    gen = ConditionalGenerator(condition_size=6, vocab_size=9, cell="gru", hidden_size=16,
                               bos_id=2, eos_id=3).eval()
    c = torch.randn(3, 6)
    ids = gen.generate(c, 8).tolist()
    greedy = [s[:s.index(3)] if 3 in s else s for s in ids]
    assert gen.beam_search(c, beam_size=1, max_len=8).tokens == greedy


def test_config_rebuilds_the_model():
    model = tiny_model("bahdanau", references_per_step=2)
    again = ImageCaptioner(**model.get_config())
    assert again.get_config() == model.get_config()
    again.load_state_dict(model.state_dict())
    with pytest.raises(TypeError, match="register"):
        _custom().get_config()


def _custom() -> ImageCaptioner:
    conv = torch.nn.Conv2d(3, 4, 8, stride=8)
    conv.out_channels = 4
    return ImageCaptioner(vocab_size=10, encoder=conv, hidden_size=8, feature_size=8)


def test_a_custom_encoder_module_is_used():
    model = _custom()
    assert model.feature_shape == (8, 8)
    batch = {"image": torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8),
             "y": torch.randint(4, 10, (2, 5)), "lengths": torch.tensor([5, 3])}
    model.compute_loss(batch).loss.backward()
    assert model.encoder.weight.grad is not None


def test_a_tiny_model_overfits_a_handful_of_images():
    split = shapes.make_split("train", 6, seed=1)
    one = shapes.ShapesSplit(split.images, [caps[:1] for caps in split.captions], split.scenes)
    data = to_tensors(one, SHAPES_TOKENIZER, 30)
    model = tiny_model("luong")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        model.train()
        loss = model.compute_loss(data).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    got = [SHAPES_TOKENIZER.decode(t) for t in model.greedy(data["image"], 30)]
    assert loss.item() < 0.05
    assert got == [caps[0] for caps in one.captions]


def test_references_per_step_draws_only_real_captions():
    model = tiny_model(references_per_step=2).train()
    y = torch.arange(3 * 4 * 5).view(3, 4, 5)
    lengths = torch.tensor([[5, 0, 0, 0], [5, 4, 0, 0], [5, 5, 5, 5]])
    picked, plen = model._draw_references(y, lengths)
    assert picked.shape == (3, 2, 5)
    assert plen[0].tolist() in ([5, 0], [0, 5]) and sorted(plen[1].tolist()) == [4, 5]
    for b in range(3):
        for r in range(2):
            assert any(torch.equal(picked[b, r], y[b, k]) for k in range(4))


# -- the Flickr-layout loader ------------------------------------------------------------------
def write_flickr(root, names=("a.jpg", "b.jpg", "c.png", "d.jpg"), lines=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "Images").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for n in names:
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
            root / "Images" / n)
    if lines is None:
        lines = [f"{n}#{i}\ta {c} dog runs on the grass ." for n, c in
                 zip(names, ("black", "brown", "white", "black")) for i in range(2)]
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return root


def test_flickr_loader_reads_a_generated_folder(tmp_path):
    root = write_flickr(tmp_path / "flickr")
    names, images, captions, path = load_flickr(root, size=32)
    assert names == ["a.jpg", "b.jpg", "c.png", "d.jpg"] and path.name == "Flickr8k.token.txt"
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8
    assert captions[1] == ["a brown dog runs on the grass ."] * 2
    parts = split_names(root, names, seed=0, val_fraction=0.25, test_fraction=0.25)
    assert sorted(sum(parts.values(), [])) == [0, 1, 2, 3] and len(parts["test"]) == 1


def test_flickr_loader_rejects_a_missing_image(tmp_path):
    root = write_flickr(tmp_path / "flickr")
    (root / "Images" / "c.png").unlink()
    with pytest.raises(FlickrError, match=r"line 5: image 'c.png' not found"):
        load_flickr(root, size=32)


@pytest.mark.parametrize("bad", ["a.jpg#0 no tab here", "a.jpg\ta caption without index",
                                 "a.jpg#x\tbad index", "b.jpg#1\t   "])
def test_flickr_loader_rejects_a_malformed_line(tmp_path, bad):
    lines = ["a.jpg#0\ta dog .", "a.jpg#1\ta dog runs .", bad]
    root = write_flickr(tmp_path / "flickr", ("a.jpg", "b.jpg"), lines)
    with pytest.raises(FlickrError, match=r"Flickr8k.token.txt, line 3: expected 'IMAGE#IN"):
        read_captions(root / "Flickr8k.token.txt")



def test_kaggle_caption_files_and_a_byte_order_mark(tmp_path):
    """Kaggle's Flickr8k captions.txt (CSV, captions with commas quoted or not), Flickr30k
    results.csv (pipes), and a token file saved with a BOM: the same captions."""
    path = tmp_path / "captions.txt"
    path.write_text('\ufeffimage,caption\na.jpg,A dog, running .\n\na.jpg,"A cat, sitting ."\n'
                    "b.jpg,plain\n", encoding="utf-8")
    want = {"a.jpg": ["A dog, running .", "A cat, sitting ."], "b.jpg": ["plain"]}
    assert read_captions(path) == want
    path.write_text("image_name| comment_number| comment\na.jpg| 0| A dog, running .\n"
                    "a.jpg| 1| A cat, sitting .\nb.jpg| 0| plain\n")
    assert read_captions(path) == want
    path.write_text(path.read_text() + "c.jpg| 4 A pipe missing\n")
    with pytest.raises(FlickrError, match=r"captions.txt, line 5: expected the columns "
                                          r"'image_name\| comment_number\| comment'"):
        read_captions(path)
    path.write_bytes(b"\xef\xbb\xbfa.jpg#0\tA dog .\n")
    assert read_captions(path) == {"a.jpg": ["A dog ."]}
    root = write_flickr(tmp_path / "kaggle", ("a.jpg", "b.jpg", "c.png"), [])
    (root / "Flickr8k.token.txt").unlink()
    (root / "captions.txt").write_text("image,caption\na.jpg,one\nb.jpg,two\nzz.jpg,x\n")
    with pytest.raises(FlickrError, match=r"captions.txt, line 4: image 'zz.jpg' not found"):
        load_flickr(root, size=8)


def test_an_empty_split_is_an_error_naming_why(tmp_path):
    root = write_flickr(tmp_path / "flickr")
    names = ["a.jpg", "b.jpg", "c.png", "d.jpg"]
    with pytest.raises(FlickrError, match=r"2 captioned image\(s\); .* need 3 at least"):
        split_names(root, names[:2])
    assert [len(v) for v in split_names(root, names[:3], val_fraction=0.5,
                                        test_fraction=0.5).values()] == [1, 1, 1]
    for split, listed in (("train", "a.jpg b.jpg"), ("dev", "c.png"), ("test", "gone.jpg")):
        (root / f"Flickr_8k.{split}Images.txt").write_text(listed)
    with pytest.raises(FlickrError, match=r"testImages.txt: names none of the 4 images"):
        split_names(root, names)

# -- the task end to end ---------------------------------------------------------------------
SMALL = ["task.train_images=64", "task.val_images=16", "task.test_images=16", "train.steps=4",
         "train.eval_every=2", "train.batch_size=16", "model.hidden_size=32",
         "model.channels=[8, 8, 8]", "model.feature_size=16", "model.embedding_dim=8",
         "train.max_minutes=0"]


def scene_image(tmp_path, k: int = 0):
    """Test scene ``k`` as a PNG file."""
    image = tmp_path / f"scene{k}.png"
    Image.fromarray(shapes.make_split("test", k + 1).images[k].transpose(1, 2, 0)).save(image)
    return image


def test_train_evaluate_and_caption_shapes(tmp_path, capsys):
    cfg = load_config("examples/captioning.toml", SMALL)
    run = tmp_path / "run"
    train_run(cfg, run)
    figures = evaluate_run(run, "test")
    # the same figures from the saved run's greedy captions of the test images, scored here
    sacrebleu = pytest.importorskip("sacrebleu")
    split = shapes.make_split("test", 16, cfg.task.data_seed, cfg.task.max_objects)
    files = []
    for k, pixels in enumerate(split.images):
        files.append(str(tmp_path / f"test{k}.png"))
        Image.fromarray(pixels.transpose(1, 2, 0)).save(files[-1])
    # evaluation decodes up to 5 tokens past the longest reference (+ eos); the predictor up
    # to task.max_tokens: greedy decoding is prefix-stable, so cut to the evaluation's length
    n = max(len(SHAPES_TOKENIZER.encode(c)[:cfg.task.max_tokens]) + 1
            for caps in split.captions for c in caps) + 5
    caps = [SHAPES_TOKENIZER.decode(SHAPES_TOKENIZER.encode(r["caption"])[:n])
            for r in rnnkit.load(run).predict(files, beam=1)]
    R = max(map(len, split.captions))
    refs = [[c[k] if k < len(c) else None for c in split.captions] for k in range(R)]
    assert figures["bleu"] == pytest.approx(sacrebleu.corpus_bleu(caps, refs).score)
    right = [shapes.caption_correct(c, s) for c, s in zip(caps, split.scenes)]
    assert figures["exact_attribute_accuracy"] == pytest.approx(sum(right) / 16)
    image = scene_image(tmp_path)
    plot = tmp_path / "attn.png"
    capsys.readouterr()
    code = main(["caption", str(run), str(image), str(tmp_path / "missing.png"), "--beam", "3",
                 "--attention-plot", str(plot), "--json"])
    out = capsys.readouterr()
    assert code == 1  # one image could not be read
    results = json.loads(out.out)["results"]
    assert results[0]["file"] == str(image) and isinstance(results[0]["caption"], str)
    assert "missing.png" in results[1]["error"] and "missing.png" in out.err
    assert (tmp_path / "attn-1.png").is_file()
    assert results == rnnkit.load(run).predict([str(image), str(tmp_path / "missing.png")],
                                               beam=3)


def write_run(root, overrides=()) -> Path:
    """A run directory holding an untrained small captioner (shapes vocabulary), as
    `rnnkit train` writes it."""
    from rnnkit.tasks import TASKS
    from rnnkit.training.checkpoint import save_checkpoint
    from rnnkit.training.config_io import write_toml

    cfg = load_config("examples/captioning.toml", [*SMALL, *overrides])
    task = TASKS["captioning"]
    ctx = task.setup(cfg)
    torch.manual_seed(0)
    model = task.build_model(ctx)
    run = Path(root) / "run"
    run.mkdir(parents=True)
    write_toml(cfg, run / "config.toml")
    info = {"model_class": type(model).__name__, "model_config": model.get_config(),
            "step": 0, **task.info(ctx, model)}
    save_checkpoint(run / "checkpoints" / "best", model, info)
    return run


@pytest.mark.parametrize("beam", [None, 1, 3])
def test_predict_equals_caption_json_and_the_model(tmp_path, capsys, beam):
    """`rnnkit caption --json` prints p.predict's records; each is the model's own beam
    search on the image as read from the file (beam None: task.beam_size = 1)."""
    run = write_run(tmp_path)
    images = [str(scene_image(tmp_path, k)) for k in range(3)]
    capsys.readouterr()
    args = [] if beam is None else ["--beam", str(beam)]
    assert main(["caption", str(run), *images, "--json", *args]) == 0
    printed = json.loads(capsys.readouterr().out)["results"]
    p = rnnkit.load(run)
    assert printed == p.predict(images, beam=beam)
    for k, record in enumerate(printed):
        image = torch.from_numpy(shapes.make_split("test", k + 1).images[k])[None]
        r = p.model.caption(image, beam_size=beam or 1, max_len=p.config.task.max_tokens)
        assert record["caption"] == SHAPES_TOKENIZER.decode(r.tokens[0])
        assert record["tokens"] == SHAPES_TOKENIZER.vocab.decode(r.tokens[0])
        attention = np.asarray(record["attention"])  # (words, h, w)
        assert attention.shape == (len(record["tokens"]), *p.model.feature_shape)
        np.testing.assert_allclose(attention.reshape(len(attention), -1),
                                   r.attention[0].numpy(), atol=1e-6)
    with pytest.raises(rnnkit.tasks.TaskError, match="at least 1"):
        p.predict(images, beam=0)


def test_attention_plot_and_a_model_without_attention(tmp_path, capsys):
    run = write_run(tmp_path / "a")
    image = str(scene_image(tmp_path))
    p = rnnkit.load(run)
    (record,) = p.predict([image])
    assert p.plot(record, tmp_path / "attn.png").stat().st_size > 0
    assert p.predict_file(image) == [record]
    # a folder: its images in name order (a Flickr data folder: its image folder's)
    data = tmp_path / "flickr"
    (data / "Images").mkdir(parents=True)
    images = [scene_image(data / "Images", k) for k in (2, 0)]
    (data / "Images" / "readme.txt").write_text("not an image")
    (data / "captions.txt").write_text("")
    names = sorted(str(f) for f in images)
    assert p.read_file(data) == names == p.read_file(data / "Images")
    assert p.predict_file(data) == p.predict(names)
    capsys.readouterr()
    assert main(["caption", str(run), str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == p.predict(names)
    (tmp_path / "empty").mkdir()
    with pytest.raises(rnnkit.tasks.TaskError, match=r"empty: no image file \(\.jpg"):
        p.predict_file(tmp_path / "empty")

    flat = write_run(tmp_path / "b", ["model.attention=none"])
    (record,) = rnnkit.load(flat).predict([image])
    assert record["attention"] is None and isinstance(record["caption"], str)
    message = 'this model does not attend (attention = "none"): no attention to plot'
    with pytest.raises(rnnkit.tasks.TaskError, match=re.escape(message)):
        rnnkit.load(flat).plot(record, tmp_path / "none.png")
    capsys.readouterr()
    assert main(["caption", str(flat), image, "--attention-plot",
                 str(tmp_path / "none.png")]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "none.png").exists()


def test_a_missing_extra_names_it(tmp_path, monkeypatch):
    from rnnkit._optional import MissingExtraError

    run = write_run(tmp_path)
    image = str(scene_image(tmp_path))
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'rnnkit\[vision\]'"):
        rnnkit.load(run).predict([image])


def test_train_on_a_flickr_folder(tmp_path):
    root = write_flickr(tmp_path / "flickr", tuple(f"{i}.jpg" for i in range(10)),
                        [f"{i}.jpg#{k}\ta dog number {i} runs ." for i in range(10)
                         for k in range(3)])
    cfg = load_config("examples/captioning.toml", [
        *SMALL, f"task.data={root}", "task.image_size=32", "train.batch_size=4"])
    assert isinstance(cfg.task, CaptioningConfig)
    train_run(cfg, tmp_path / "run")
    figures = evaluate_run(tmp_path / "run", "test")
    assert "bleu" in figures and "exact_attribute_accuracy" not in figures


def test_a_relative_data_dir_is_read_from_the_config_files_folder(tmp_path, monkeypatch):
    """As every task's data paths: not from the current directory, recorded absolute."""
    root = write_flickr(tmp_path / "project" / "flickr")
    (tmp_path / "project" / "cap.toml").write_text(
        '[task]\nname = "captioning"\ndata_dir = "flickr"\nimage_size = 32\n')
    monkeypatch.chdir(tmp_path)
    cfg = load_config(tmp_path / "project" / "cap.toml")
    assert cfg.task.data == str(root.resolve())  # the former key, read as task.data
    assert cfg.task.data_dir == ""
    ctx = rnnkit.tasks.TASKS["captioning"].setup(cfg)
    assert sum(len(p.captions) for p in ctx.parts.values()) == 4
