"""Image captioning (one-to-many): an image in, a sentence out.

Model: :class:`~rnnkit.models.captioner.ImageCaptioner`, a small CNN trained from scratch
whose feature map sets the decoder's first state (through a linear map of the whole map)
and which the decoder attends over at every word (Show, Attend and Tell), trained with
teacher forcing on every reference caption of an image.

Data: the generated ``shapes`` set (:mod:`rnnkit.data.shapes`: 64x64 scenes of 1-3 objects,
5 reference captions each from a small grammar, a seed per split, multi-object layouts of
validation/test never seen in training), or a user's images and captions in the
Flickr8k/Flickr30k layout (:mod:`rnnkit.data.flickr`), named as every task names its data
(DESIGN.md, "A user's own data"): ``task.data``, one such folder, split by Flickr8k's split
lists where all three are in it, else at random (``task.split_seed``, ``task.test_fraction``
and ``task.val_fraction`` of the images); or ``task.train_data``, ``task.test_data`` and
optionally ``task.val_data``, one folder each (every image of a folder in its part; the
validation part carved from training when not given). ``task.data_dir`` is the former
name of ``task.data``, still read and written back under the new name. Words are ids of a
:class:`~rnnkit.data.tokenizers.WordTokenizer` kept in model.json (for ``shapes`` its
vocabulary is the grammar's words, for Flickr it is fitted on the training captions).

``evaluate --json`` adds ``bleu`` (sacrebleu corpus BLEU of greedy captions against all
references; for Flickr computed on word ids, so out-of-vocabulary words count as <unk>) and,
for ``shapes``, ``exact_attribute_accuracy``: the share of test images whose caption parses
under the grammar and names exactly the objects (shape, colour, and size where given) with
every stated relation true.

Predictor: ``predict(image files, beam=None)`` -> ``{"file", "caption", "tokens",
"attention"}`` per image (``rnnkit caption RUN IMAGE ... [--beam N]``); ``plot(record,
path)`` draws each word's attention over the image (``--attention-plot``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._optional import pyplot, require
from ..data import shapes
from ..data.batches import batches
from ..data.flickr import (
    IMAGE_DIRS,
    IMAGE_SUFFIXES,
    FlickrError,
    load_flickr,
    read_image,
    split_names,
)
from ..data.tokenizers import SPECIALS, Vocabulary, WordTokenizer
from ..models import captioner  # noqa: F401  (registers ImageCaptioner)
from ..training.config import TaskConfig, number
from .base import Context, Task, TaskError, register
from .datafiles import DataFilesConfig, data_errors, load_splits, path_field, uses_own_data
from .predictor import Predictor, files_in
from .text_common import saved_tokenizer

BOS, EOS = SPECIALS.index("<bos>"), SPECIALS.index("<eos>")
SHAPES_TOKENIZER = WordTokenizer(Vocabulary(shapes.WORDS))


@dataclass
class CaptioningConfig(DataFilesConfig, TaskConfig):
    name: str = "captioning"
    data_dir: str = path_field()  # the former name of task.data (a Flickr-layout folder)
    captions_file: str = ""  # in each folder; "" = Flickr8k.token.txt, results_20130124...
    image_size: int = number(64, 16)  # images are resized to image_size^2 (shapes: 64)
    train_images: int = number(6000, 1)  # shapes split sizes
    val_images: int = number(500, 1)
    test_images: int = number(1000, 1)
    data_seed: int = 0  # shapes scenes (kept apart from the run seed; Flickr: split_seed)
    max_objects: int = number(3, 1, 3)  # shapes: objects per scene at most
    max_images: int = number(0, 0)  # Flickr: read the first N images only (0 = all)
    min_freq: int = number(1, 1)  # Flickr: rarer training words become <unk>
    max_tokens: int = number(30, 1)  # captions are cut to this many words
    beam_size: int = number(1, 1)  # report samples and `rnnkit caption` default (1 = greedy)

    def __post_init__(self):
        if self.data_dir and not (self.data or self.train_data):
            self.data, self.data_dir = self.data_dir, ""


@dataclass
class CaptionData:
    """One split: images (N, 3, S, S) uint8, captions (N lists), scenes (shapes) or None."""

    images: np.ndarray
    captions: list[list[str]]
    scenes: list[shapes.Scene] | None = None


class CaptioningContext(Context):
    """The run's images and captions by split and the word tokenizer, built on first use
    (a predictor reads the tokenizer from model.json instead)."""

    @cached_property
    def parts(self) -> dict[str, CaptionData]:
        """``train``/``val``/``test`` images and captions."""
        cfg = self.task_cfg
        if not uses_own_data(cfg):
            sizes = {"train": cfg.train_images, "val": cfg.val_images, "test": cfg.test_images}
            out = {}
            for split, n in sizes.items():
                s = shapes.make_split(split, n, cfg.data_seed, cfg.max_objects)
                out[split] = CaptionData(s.images, s.captions, s.scenes)
            return out
        try:
            if not cfg.data:  # a folder per part: every image of it
                parts = load_splits(cfg, self._read_folder, "captioned images")
                return {s: CaptionData(np.stack([im for im, _ in items]),
                                       [caps for _, caps in items])
                        for s, items in parts.items()}
            names, images, captions, _ = self._flickr(cfg.data)
            idx = split_names(cfg.data, names, seed=cfg.split_seed,
                              val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
        except FlickrError as e:
            raise TaskError(str(e)) from None
        return {s: CaptionData(images[i], [captions[k] for k in i]) for s, i in idx.items()}

    def _flickr(self, folder):
        cfg = self.task_cfg
        return load_flickr(folder, size=cfg.image_size, captions_file=cfg.captions_file,
                           max_images=cfg.max_images)

    def _read_folder(self, folder: Path) -> list[tuple[np.ndarray, list[str]]]:
        """(image, captions) of every image of one part's Flickr-layout folder."""
        _, images, captions, _ = self._flickr(folder)
        return list(zip(images, captions))

    @cached_property
    def tokenizer(self) -> WordTokenizer:
        """shapes: the grammar's words; Flickr: fitted on the training captions. A trained
        run's own (``saved``: the ids its model learnt, whatever the captions are now)."""
        if "tokenizer" in self.saved:
            return saved_tokenizer(self.saved)
        cfg = self.task_cfg
        if not uses_own_data(cfg):
            return SHAPES_TOKENIZER
        texts = [c for caps in self.parts["train"].captions for c in caps]
        return WordTokenizer.fit(texts, min_freq=cfg.min_freq)


def to_tensors(part: CaptionData, tok: WordTokenizer, max_tokens: int) -> dict[str, torch.Tensor]:
    """``image`` (N, 3, S, S) uint8, ``y`` (N, R, T) ids + eos, ``lengths`` (N, R) (0 for
    a missing caption), and for shapes ``scene`` (N, 3, 6) (see :func:`shapes.scene_array`)."""
    R = max(len(c) for c in part.captions)
    ids = [[tok.encode(c)[:max_tokens] + [EOS] for c in caps] for caps in part.captions]
    T = max(len(s) for row in ids for s in row)
    y = torch.zeros(len(ids), R, T, dtype=torch.long)
    lengths = torch.zeros(len(ids), R, dtype=torch.long)
    for i, row in enumerate(ids):
        for r, seq in enumerate(row):
            y[i, r, :len(seq)] = torch.tensor(seq)
            lengths[i, r] = len(seq)
    out = {"image": torch.from_numpy(part.images), "y": y, "lengths": lengths}
    if part.scenes is not None:
        out["scene"] = torch.from_numpy(shapes.scene_array(part.scenes))
    return out


def corpus_bleu(hypotheses: list[str], references: list[list[str]], tokenize: str = "13a"
                ) -> float:
    """sacrebleu corpus BLEU, any number of references per sentence."""
    sacrebleu = require("sacrebleu", "text")
    R = max(len(r) for r in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(R)]
    return float(sacrebleu.corpus_bleu(hypotheses, streams, tokenize=tokenize).score)


def caption_figures(model, data: dict[str, torch.Tensor], batch_size: int,
                    tok: WordTokenizer | None = None) -> dict[str, float]:
    """Greedy captions of ``data`` scored: ``bleu`` and (shapes) ``exact_attribute_accuracy``.

    With ``tok`` the texts are compared (sacrebleu's 13a tokenisation); without, the word
    ids are (tokenize="none")."""
    model.eval()
    device = next(model.parameters()).device
    max_len = data["y"].shape[2] + 5
    hyps = [seq for b in batches(data, batch_size)
            for seq in model.greedy(b["image"].to(device), max_len)]

    def text(ids: list[int]) -> str:
        ids = [i for i in ids if i != EOS]
        return tok.decode(ids) if tok is not None else " ".join(map(str, ids))

    refs = [[text(data["y"][i, r, :n].tolist()) for r, n in enumerate(data["lengths"][i].tolist())
             if n > 0] for i in range(len(hyps))]
    hyp_text = [text(h) for h in hyps]
    out = {"bleu": corpus_bleu(hyp_text, refs, "13a" if tok is not None else "none")}
    if "scene" in data and tok is not None:
        scenes = shapes.scenes_from_array(data["scene"].numpy())
        ok = sum(shapes.caption_correct(h, s) for h, s in zip(hyp_text, scenes))
        out["exact_attribute_accuracy"] = ok / max(len(scenes), 1)
    return out


class CaptioningTask(Task):
    name = "captioning"
    config_class = CaptioningConfig
    model_class = "ImageCaptioner"
    context_class = CaptioningContext
    capabilities = frozenset({"caption", "plot"})
    fixed_model_args = frozenset({"vocab_size", "image_size", "bos_id", "eos_id", "pad_id"})

    def check(self, cfg) -> list[str]:
        errors = super().check(cfg) + data_errors(cfg.task)
        if cfg.task.data_dir:  # (left beside task.data or its parts)
            errors.append("task.data_dir is the former name of task.data: set one of them")
        if not uses_own_data(cfg.task) and cfg.task.image_size != shapes.IMAGE_SIZE:
            errors.append(f"task.image_size = {cfg.task.image_size}: the shapes scenes are "
                          f"{shapes.IMAGE_SIZE}x{shapes.IMAGE_SIZE}")
        return errors

    def make_splits(self, ctx: CaptioningContext):
        cfg = ctx.task_cfg
        return {k: to_tensors(v, ctx.tokenizer, cfg.max_tokens) for k, v in ctx.parts.items()}

    def model_args(self, ctx: CaptioningContext) -> dict[str, Any]:
        return {"vocab_size": len(ctx.tokenizer.vocab), "image_size": ctx.task_cfg.image_size,
                "bos_id": BOS, "eos_id": EOS, "pad_id": 0}

    def info(self, ctx: CaptioningContext, model):
        return {**super().info(ctx, model), "tokenizer": ctx.tokenizer.to_dict()}

    def extra_metrics(self, ctx, model, split):
        data = self.batches(ctx)[split]
        # shapes data carry their scenes; their vocabulary is the grammar's, fixed
        tok = ctx.tokenizer if "scene" in data else None
        return caption_figures(model, data, ctx.cfg.train.batch_size, tok)

    @torch.no_grad()
    def report_sections(self, ctx: CaptioningContext, model) -> list[str]:
        """Captions of the first test images (beam ``task.beam_size``) beside a reference."""
        cfg, tok, test = ctx.task_cfg, ctx.tokenizer, self.batches(ctx)["test"]
        n = min(12, test["image"].shape[0])
        device = next(model.parameters()).device
        result = model.caption(test["image"][:n].to(device), beam_size=cfg.beam_size,
                               max_len=cfg.max_tokens)
        part = ctx.parts["test"]
        lines = [f"## Test captions (beam {cfg.beam_size})", "",
                 "| # | generated | a reference |", "|---|---|---|"]
        for i in range(n):
            lines.append(f"| {i} | {tok.decode(result.tokens[i])} | {part.captions[i][0]} |")
        return lines

    def predictor(self, ctx, model, info, run_dir=None):
        return CaptioningPredictor(self, ctx, model, info, run_dir)


class CaptioningPredictor(Predictor):
    """Inputs: image file paths (any format Pillow reads; converted to RGB and resized to
    ``task.image_size`` squared, as in training)."""

    def read_file(self, path, **options) -> list[Any]:
        """An image file is one input; a folder (a Flickr image folder, or the data folder
        holding one) its image files in name order."""
        path = Path(path)
        if not path.is_dir():
            return [str(path)]
        folder = next((path / d for d in IMAGE_DIRS if (path / d).is_dir()), path)
        return files_in(folder, IMAGE_SUFFIXES, "image")

    @torch.no_grad()
    def predict(self, inputs, beam: int | None = None, **options) -> list[dict[str, Any]]:
        """Per image ``{"file", "caption", "tokens", "attention"}``: the caption, its words,
        and each word's attention over the image's feature map as a (words, h, w) nested
        list (None for a model without attention); or ``{"file", "error"}`` for a file that
        cannot be read. ``beam``: the beam width (None: the run's ``task.beam_size``;
        1: greedy)."""
        cfg = self.config.task
        beam = cfg.beam_size if beam is None else int(beam)
        if beam < 1:
            raise TaskError(f"--beam must be at least 1, got {beam}")
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        tok = saved_tokenizer(self.info)
        out: list[dict[str, Any]] = []
        for i, path in enumerate(inputs):
            if not isinstance(path, (str, Path)):
                raise TaskError(f"input {i}: give an image file path, got "
                                f"{type(path).__name__}")
            try:
                image = torch.from_numpy(read_image(path, cfg.image_size))[None]
            except FlickrError as e:
                out.append({"file": str(path), "error": str(e)})
                continue
            r = self.model.caption(image.to(self.device), beam_size=beam,
                                   max_len=cfg.max_tokens)
            words = tok.vocab.decode(r.tokens[0])
            attention = None
            if r.attention is not None:
                attn = r.attention[0].view(len(words), *self.model.feature_shape).cpu()
                attention = [[[round(float(v), 6) for v in row] for row in word]
                             for word in attn]
            out.append({"file": str(path), "caption": tok.decode(r.tokens[0]),
                        "tokens": words, "attention": attention})
        return out

    def plot(self, record: dict[str, Any], path) -> Path:
        """The image once per word with that word's attention laid over it (the image is
        read again from ``record["file"]``)."""
        if "error" in record:
            raise TaskError(f"nothing to plot: {record['error']}")
        if record.get("attention") is None:
            raise TaskError("this model does not attend (attention = \"none\"): "
                            "no attention to plot")
        try:
            image = torch.from_numpy(read_image(record["file"], self.config.task.image_size))
        except FlickrError as e:
            raise TaskError(str(e)) from None
        return plot_attention(image, record["tokens"], torch.tensor(record["attention"]), path)


def plot_attention(image: torch.Tensor, words: list[str], attention: torch.Tensor,
                   path: str | Path) -> Path:
    """The image (3, S, S) once per word, that word's attention (h, w) laid over it (scaled
    to the image), into ``path``."""
    plt = pyplot()
    img = image.permute(1, 2, 0).numpy()  # (S, S, 3)
    n = len(words) + 1
    cols = min(n, 6)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(img)
    axes.flat[0].set_title("image", fontsize=9)
    S = img.shape[0]
    for k, word in enumerate(words, 1):
        ax = axes.flat[k]
        ax.imshow(img)
        heat = torch.nn.functional.interpolate(attention[k - 1][None, None].float(),
                                               size=(S, S), mode="bilinear",
                                               align_corners=False)[0, 0]
        ax.imshow(heat.numpy(), cmap="inferno", alpha=0.6)
        ax.set_title(word, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


register(CaptioningTask())
