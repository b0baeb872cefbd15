"""Write the sample series of the multivariate time-series examples (made-up, seeded):

- ``grid-load.csv``: daily electricity load of two regions (``north``, ``south``, MW) from
  2021-01-01 to 2024-01-01, with two covariates known in advance: the forecast
  ``temperature`` (deg C) and ``day_off`` (1 on weekends and public holidays). Its last 14
  rows hold only the covariates (the values blank): the known future a forecast from the
  end of the file reads.
  ``rnnkit train examples/forecast-grid.toml`` forecasts both regions two weeks ahead.
- ``plant-sensors.csv``: a pump station every 15 minutes for three weeks: ``temperature``,
  ``pressure`` and ``vibration`` sensors and the planned ``setpoint`` (a covariate). Two
  faults follow the first twelve days: a pressure leak (day 15, one sensor) and a bearing
  fault (day 18: vibration and temperature). ``rnnkit train examples/anomaly-sensors.toml``
  learns normal behaviour on the first twelve days and flags them.

    python examples/data/make_timeseries.py        # rewrites both files (deterministic)
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
HOLIDAYS = ("01-01", "04-05", "05-01", "07-14", "11-11", "12-25", "12-26")


def ar(rng, n: int, phi: float, sd: float) -> np.ndarray:
    """An AR(1) noise series."""
    e = rng.normal(0, sd, n)
    out = np.zeros(n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def grid_load(days: int = 1096, ahead: int = 14, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    n = days + ahead
    dates = np.datetime64("2021-01-01") + np.arange(n)
    d = np.arange(n)
    temperature = 12 + 9 * np.sin(2 * np.pi * (d - 110) / 365.25) + ar(rng, n, 0.7, 2.0)
    weekday = (d + 4) % 7  # 2021-01-01 was a Friday: 0 = Monday
    holiday = np.array([str(t)[5:] in HOLIDAYS for t in dates])
    day_off = ((weekday >= 5) | holiday).astype(int)
    heat, cool = np.maximum(15 - temperature, 0), np.maximum(temperature - 20, 0)
    north = 900 + 0.05 * d + 14 * heat + 6 * cool - 110 * day_off + ar(rng, n, 0.6, 12)
    south = 620 + 0.08 * d + 5 * heat + 16 * cool - 70 * day_off + ar(rng, n, 0.6, 9)
    lines = ["date,north,south,temperature,day_off"]
    for i in range(n):
        load = f"{north[i]:.1f},{south[i]:.1f}" if i < days else ","
        lines.append(f"{dates[i]},{load},{temperature[i]:.1f},{day_off[i]}")
    return "\n".join(lines) + "\n"


def plant_sensors(days: int = 21, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    per_day = 96  # 15-minute steps
    n = days * per_day
    times = np.datetime64("2024-03-04T00:00") + np.arange(n) * np.timedelta64(15, "m")
    hour = (np.arange(n) % per_day) / 4
    weekday = (np.arange(n) // per_day) % 7
    shift = (hour >= 6) & (hour < 22) & (weekday < 6)
    setpoint = np.where(shift, 80.0, 35.0) + np.where(shift & (hour >= 14), -10.0, 0.0)
    lag = np.convolve(setpoint, np.ones(8) / 8)[:n]  # the plant follows within two hours
    lag[:8] = setpoint[:8]
    temperature = 40 + 0.25 * lag + 3 * np.sin(2 * np.pi * (hour - 9) / 24) + ar(rng, n, 0.8, 0.4)
    pressure = 2.0 + 0.03 * lag + ar(rng, n, 0.7, 0.05)
    vibration = 0.8 + 0.012 * lag + np.abs(rng.normal(0, 0.08, n))
    leak = slice(15 * per_day + 40, 15 * per_day + 52)  # day 15, 10:00-13:00
    pressure[leak] -= np.linspace(0.2, 0.9, 12)
    bearing = slice(18 * per_day + 60, 18 * per_day + 76)  # day 18, 15:00-19:00
    vibration[bearing] += np.linspace(0.4, 1.6, 16)
    temperature[bearing] += np.linspace(1, 6, 16)
    lines = ["timestamp,temperature,pressure,vibration,setpoint"]
    for i in range(n):
        t = str(times[i]).replace("T", " ")
        lines.append(f"{t},{temperature[i]:.2f},{pressure[i]:.3f},{vibration[i]:.3f},"
                     f"{setpoint[i]:.0f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for name, text in (("grid-load.csv", grid_load()), ("plant-sensors.csv", plant_sensors())):
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name} ({len(text) // 1024} KB)")
