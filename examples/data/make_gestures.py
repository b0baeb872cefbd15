"""Write examples/data/gestures.csv: made-up wrist accelerometer recordings of three
gestures, a sample of the long layout `rnnkit train examples/classify-csv.toml` reads (one
row per recording and time step: recording, t, ax, ay, az, gesture).

- wave: a side-to-side swing on ax (about 2 Hz), the arm held up (az near -0.5 g);
- circle: ax and ay a quarter period apart (a circle in the horizontal plane);
- shake: short, fast jolts on all three axes around rest (az near -1 g).

Recordings last 1.5 to 3 s at 20 Hz (30 to 60 steps), with sensor noise; rows are written
recording by recording, the steps in order.

    python examples/data/make_gestures.py        # rewrites gestures.csv (deterministic)
"""

import csv
import math
import random
from pathlib import Path

GESTURES = ("wave", "circle", "shake")
RATE = 20  # samples per second


def recording(gesture: str, rng: random.Random) -> list[tuple[float, float, float]]:
    steps = rng.randint(30, 60)
    freq, phase = rng.uniform(1.5, 2.5), rng.uniform(0, 2 * math.pi)
    out = []
    for k in range(steps):
        w = 2 * math.pi * freq * k / RATE + phase
        if gesture == "wave":
            a = (0.8 * math.sin(w), 0.1 * math.sin(2 * w), -0.5)
        elif gesture == "circle":
            a = (0.6 * math.cos(w / 2), 0.6 * math.sin(w / 2), -0.9)
        else:
            a = (rng.gauss(0, 0.6), rng.gauss(0, 0.6), -1 + rng.gauss(0, 0.4))
        out.append(tuple(v + rng.gauss(0, 0.05) for v in a))
    return out


def rows(n: int = 90, seed: int = 0):
    rng = random.Random(seed)
    for i in range(n):
        gesture = GESTURES[i % 3]
        for t, (ax, ay, az) in enumerate(recording(gesture, rng)):
            yield f"r{i:03d}", t, f"{ax:.3f}", f"{ay:.3f}", f"{az:.3f}", gesture


if __name__ == "__main__":
    path = Path(__file__).with_name("gestures.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["recording", "t", "ax", "ay", "az", "gesture"])
        w.writerows(rows())
    print(f"wrote {path}")
