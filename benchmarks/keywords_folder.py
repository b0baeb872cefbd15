"""Keywords from a folder per label: FSDD laid out as ``root/<digit>/*.wav`` beside the
built-in FSDD task (issue 17's target: the same test accuracy within 1 point).

    RNNKIT_DATA=../shared/data python benchmarks/keywords_folder.py \\
        [--config examples/digits.toml] [--set KEY=VALUE ...] [--out runs/keywords-folder]

Lays the shared recordings out under ``OUT/fsdd/<digit>/`` (symbolic links, file names
kept) with ``testing_list.txt`` naming recordings 0..4 and ``validation_list.txt`` 5..9:
the built-in official split, in the same order. Then, with the same config and seed:

- checks that the folder read at 8 kHz (``task.sample_rate = 8000``) gives exactly the
  built-in task's tensors (so its figures are the built-in's by construction);
- trains the built-in task and the folder at the user-data default, 16 kHz (each
  recording resampled, features over 25 ms / 10 ms frames at 16 kHz), and prints both test
  accuracies. A finished run's figures are kept in ``OUT/<variant>.json`` and read back by
  a later call with the same config and overrides (``--retrain`` trains anyway).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from rnnkit.data.audio import fsdd_recordings
from rnnkit.tasks import TASKS, load_config, train_run


def layout_fsdd(dest: Path) -> Path:
    """``dest/<digit>/<file>.wav`` links to the FSDD recordings, with the official split as
    Speech Commands' list files; returns ``dest``."""
    recs = fsdd_recordings()
    lists = {"testing_list.txt": [], "validation_list.txt": []}
    for r in recs:
        link = dest / str(r.digit) / r.path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(r.path.resolve())
        if r.index < 10:
            lists["testing_list.txt" if r.index < 5 else "validation_list.txt"].append(
                f"{r.digit}/{r.path.name}")
    for name, lines in lists.items():
        (dest / name).write_text("\n".join(lines) + "\n")
    return dest


def same_tensors(config: str, overrides: list[str], folder: Path) -> bool:
    """Whether the folder at 8 kHz gives exactly the built-in task's splits."""
    task = TASKS["speech-digits"]
    builtin = task.setup(load_config(config, overrides)).splits
    own = task.setup(load_config(config, [*overrides, f"task.data={folder}",
                                          "task.sample_rate=8000"])).splits
    return all(torch.equal(builtin[s][k], own[s][k]) for s in builtin for k in builtin[s])


def trained(variant: str, config: str, overrides: list[str], out: Path, retrain: bool) -> dict:
    path = out / f"{variant}.json"
    if path.exists() and not retrain:
        saved = json.loads(path.read_text())
        if saved["config"] == config and saved["overrides"] == overrides:
            return saved
    cfg = load_config(config, [*overrides, f"name={variant}", "train.progress=off"])
    start = time.time()
    result = train_run(cfg, out / variant, overwrite=True)
    figures = {"variant": variant, "config": config, "overrides": overrides,
               "accuracy": result.results["test"]["accuracy"],
               "errors": result.results["test"].get("errors"),
               "minutes": round((time.time() - start) / 60, 2)}
    path.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="examples/digits.toml")
    p.add_argument("--set", action="append", default=[], help="override (repeatable)")
    p.add_argument("--out", default="runs/keywords-folder")
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--skip-check", action="store_true", help="skip the 8 kHz tensor check")
    args = p.parse_args()
    out = Path(args.out).resolve()
    folder = layout_fsdd(out / "fsdd")
    if not args.skip_check:
        print(f"folder at 8 kHz gives the built-in tensors exactly: "
              f"{same_tensors(args.config, args.set, folder)}", flush=True)
    rows = [trained("builtin", args.config, args.set, out, args.retrain),
            trained("folder-16k", args.config, [*args.set, f"task.data={folder}"], out,
                    args.retrain)]
    print(f"\nFSDD official split, {args.config} {' '.join(args.set)}")
    print("| data | test accuracy | errors / 300 | minutes |")
    print("|---|---|---|---|")
    for r in rows:
        what = ("built-in FSDD loader (8 kHz)" if r["variant"] == "builtin"
                else "root/<digit>/*.wav + list files (resampled to 16 kHz)")
        print(f"| {what} | {r['accuracy']:.2%} | {int(r['errors'])} | {r['minutes']} |")


if __name__ == "__main__":
    main()
