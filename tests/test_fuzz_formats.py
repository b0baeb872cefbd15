"""Property-based tests of the readers of users' files in each field's format (.ts, .npz,
long tables, MIDI, WAV, JSON-lines manifests, Flickr captions, translation pairs, keyword
list files): a valid file damaged anywhere — bytes changed, cut short, lines shuffled —
gives either the data or the reader's own error naming the file, never another exception.

The example count is 60 by default (quick in CI); ``RNNKIT_FUZZ_EXAMPLES=4000`` runs the
long search before a release."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.datasets import DataError
from rnnkit.data.sequences import read_long_table, read_npz, read_ts
from rnnkit.data.text import read_parallel

FUZZ = settings(max_examples=int(os.environ.get("RNNKIT_FUZZ_EXAMPLES", "60")),
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# A damage: (position as a share of the file, replacement bytes); then an optional cut.
edits = st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=0, max_size=3)), max_size=4)
cuts = st.one_of(st.none(), st.floats(0, 1))


def damaged(data: bytes, changes, cut) -> bytes:
    """``data`` with each change's bytes written over (or, when empty, one byte removed
    at) its position, then cut at ``cut`` of its length."""
    out = bytearray(data)
    for where, new in changes:
        i = min(int(where * len(out)), max(len(out) - 1, 0))
        out[i:i + max(len(new), 1)] = new
    if cut is not None:
        out = out[:int(cut * len(out))]
    return bytes(out)


def _names_the_file(error: Exception, path) -> None:
    assert str(path.name) in str(error), f"the message does not name the file: {error}"


# -- .ts ------------------------------------------------------------------------------------
TS = """# a comment
@problemName demo
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1.0,2.0,3.0:0.5,?,0.25:up
-1,0,1e3:4,5,6:down
7,8:9,10:up
"""
ts_tokens = st.sampled_from(["@dimensions 3", "@univariate true", "@equalLength true",
                             "@seriesLength 2", "@classLabel false", "@targetLabel true",
                             "@data", ":", ",", "?", "nan", "up", "", "@timeStamps true",
                             "1,2:3", "@classLabel true", "%", "\t", "1e999"])


@FUZZ
@given(changes=edits, cut=cuts, extra=st.lists(st.tuples(st.integers(0, 12), ts_tokens),
                                               max_size=3))
def test_ts_reader_gives_series_or_a_data_error(tmp_path, changes, cut, extra):
    lines = TS.splitlines()
    for at, token in extra:
        lines.insert(min(at, len(lines)), token)
    path = tmp_path / "damaged.ts"
    path.write_bytes(damaged(("\n".join(lines) + "\n").encode(), changes, cut))
    try:
        series = read_ts(path)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert series and all(s.x.ndim == 2 and s.x.dtype == np.float64 for s in series)
    assert len({s.x.shape[1] for s in series}) == 1


# -- .npz -----------------------------------------------------------------------------------
arrays = st.sampled_from([
    np.zeros((3, 4, 2)), np.arange(6.0).reshape(2, 3), np.array([1, 2, 3]),
    np.zeros((2, 0, 1)), np.zeros((0, 3, 1)), np.array(["a", "b"]), np.array([[1.5, np.nan]]),
    np.array([3, 1, 2]), np.array([0, 5]), np.array([-1, 2]), np.array([2.0, 1.0]),
    np.array(True), np.zeros((2, 2, 2, 2)), np.array([1 + 2j, 3j]), np.array([b"x", b"y"]),
])
npz_keys = st.sampled_from(["X", "lengths", "y", "x", "extra"])


@FUZZ
@given(contents=st.dictionaries(npz_keys, arrays, max_size=4), compressed=st.booleans(),
       changes=edits, cut=cuts, damage=st.booleans())
def test_npz_reader_gives_sequences_or_a_data_error(tmp_path, contents, compressed, changes,
                                                    cut, damage):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **contents)
    data = buffer.getvalue()
    path = tmp_path / "damaged.npz"
    path.write_bytes(damaged(data, changes, cut) if damage else data)
    try:
        sequences = read_npz(path)
    except DataError as e:
        _names_the_file(e, path)
        return
    X = contents["X"]
    assert len(sequences) == len(X)
    assert all(1 <= len(s.x) <= X.shape[1] for s in sequences)


def test_an_npz_that_is_a_single_npy_array_is_a_data_error(tmp_path):
    path = tmp_path / "X.npz"  # np.save writes .npy bytes, whatever the name says
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 3)))
    with pytest.raises(DataError, match="X.npz"):
        read_npz(path)


def test_an_npz_with_a_damaged_compressed_member_is_a_data_error(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X=np.random.default_rng(0).normal(size=(50, 40)))
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("X.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 10, start + 30):  # inside the deflated stream
        data[i] ^= 0xFF
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt.npz"):
        read_npz(path)


# -- long tables ----------------------------------------------------------------------------
LONG = "id,t,a,b,label\ns1,1,0.5,1,x\ns1,2,0.25,2,x\ns2,2020-01-02,3,4,y\ns2,2020-01-01,5,6,y\n"


@FUZZ
@given(changes=edits, cut=cuts, suffix=st.sampled_from([".csv", ".tsv"]))
def test_long_table_reader_gives_sequences_or_a_data_error(tmp_path, changes, cut, suffix):
    text = LONG.replace(",", "\t") if suffix == ".tsv" else LONG
    path = tmp_path / f"long{suffix}"
    path.write_bytes(damaged(text.encode(), changes, cut))
    try:
        sequences = read_long_table(path)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert sequences and all(s.x.ndim == 2 for s in sequences)


# -- MIDI -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def midi_bytes(tmp_path_factory):
    pytest.importorskip("mido", reason="MIDI needs the 'music' extra (mido)")
    from rnnkit.data.music import roll_to_midi

    roll = np.zeros((16, 88), dtype=np.uint8)
    roll[0:4, 39] = roll[2:8, 43] = roll[8:16, 46] = 1
    path = tmp_path_factory.mktemp("midi") / "tune.mid"
    roll_to_midi(roll, path)
    return path.read_bytes()


@FUZZ
@given(changes=edits, cut=cuts)
def test_midi_reader_gives_a_roll_or_a_data_error(tmp_path, midi_bytes, changes, cut):
    from rnnkit.data.music import read_midi_roll

    path = tmp_path / "damaged.mid"
    path.write_bytes(damaged(midi_bytes, changes, cut))
    try:
        read = read_midi_roll(path)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert read.roll.ndim == 2 and read.roll.shape[1] == 88
    assert set(np.unique(read.roll)) <= {0, 1}


# -- WAV ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wav_bytes():
    sf = pytest.importorskip("soundfile", reason="audio needs the 'audio' extra (soundfile)")
    buffer = io.BytesIO()
    tone = np.sin(np.arange(800) * 0.3).astype(np.float32) * 0.5
    sf.write(buffer, tone, 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@FUZZ
@given(changes=edits, cut=cuts)
def test_audio_reader_gives_a_signal_or_an_audio_error(tmp_path, wav_bytes, changes, cut):
    from rnnkit.data.audio import AudioError, read_audio

    path = tmp_path / "damaged.wav"
    path.write_bytes(damaged(wav_bytes, changes, cut))
    try:
        audio = read_audio(path)
    except AudioError as e:
        _names_the_file(e, path)
        return
    assert audio.ndim == 1 and audio.dtype == np.float32 and np.isfinite(audio).all()


# -- speech manifests -----------------------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
              st.text(max_size=10), st.sampled_from(["a.wav", "~nobody_here/a.wav", "",
                                                     "/dev/null", "sub/../a.wav"])),
    lambda inner: st.one_of(st.lists(inner, max_size=2),
                            st.dictionaries(st.text(max_size=5), inner, max_size=2)),
    max_leaves=4)
manifest_keys = st.sampled_from(["audio_filepath", "text", "duration", "offset", "speaker"])


@FUZZ
@given(objects=st.lists(st.dictionaries(manifest_keys, json_values, max_size=5), max_size=3),
       raw=st.binary(max_size=40), as_bytes=st.booleans())
def test_manifest_reader_gives_utterances_or_a_data_error(tmp_path, objects, raw, as_bytes):
    from rnnkit.data.manifests import read_manifest

    (tmp_path / "a.wav").write_bytes(b"RIFF")  # exists; the audio is read later
    path = tmp_path / "manifest.jsonl"
    if as_bytes:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(json.dumps(o) for o in objects) + "\n", encoding="utf-8")
    try:
        manifest = read_manifest(path)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert all(u.text and u.audio.is_file() for u in manifest.items)


# -- Flickr captions, translation pairs, keyword list files ---------------------------------
CAPTIONS = "1000.jpg#0\tA dog runs .\n1000.jpg#1\tA brown dog .\n2000.jpg#0\tTwo cats .\n"
PAIRS = "Go .\tVa !\nHi .\tSalut !\tCC-BY 2.0 (France)\n\nRun !\tCours !\n"


@FUZZ
@given(changes=edits, cut=cuts)
def test_caption_reader_gives_captions_or_a_flickr_error(tmp_path, changes, cut):
    from rnnkit.data.flickr import FlickrError, read_captions

    path = tmp_path / "captions.token"
    path.write_bytes(damaged(CAPTIONS.encode(), changes, cut))
    try:
        captions = read_captions(path)
    except FlickrError as e:
        _names_the_file(e, path)
        return
    assert captions and all(c and all(s.strip() for s in c) for c in captions.values())


@FUZZ
@given(changes=edits, cut=cuts, reverse=st.booleans())
def test_pair_reader_gives_pairs_or_a_data_error(tmp_path, changes, cut, reverse):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(damaged(PAIRS.encode(), changes, cut))
    try:
        text = read_parallel(path, reverse=reverse)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert text.pairs and all(s and t for s, t in text.pairs)
    assert len(text.pairs) == len(text.lines)


@FUZZ
@given(changes=edits, cut=cuts)
def test_keyword_list_reader_gives_names_or_a_data_error(tmp_path, changes, cut):
    from rnnkit.data.keywords import read_file_list

    path = tmp_path / "validation_list.txt"
    path.write_bytes(damaged(b"yes/a_nohash_0.wav\n\nno/b_nohash_1.wav\n", changes, cut))
    known = {"yes/a_nohash_0.wav", "no/b_nohash_1.wav"}
    try:
        names = read_file_list(path, known)
    except DataError as e:
        _names_the_file(e, path)
        return
    assert set(names) <= known


# -- what the searches above found ----------------------------------------------------------
def test_a_home_folder_that_does_not_exist_is_a_file_not_found(tmp_path):
    from rnnkit.data.manifests import read_manifest

    path = tmp_path / "manifest.jsonl"  # Path.expanduser raises RuntimeError on ~nobody
    path.write_text('{"audio_filepath": "~nobody_here_at_all/a.wav", "text": "hi"}\n')
    with pytest.raises(DataError, match=r"manifest.jsonl:1: audio file .*~nobody_here_at_all"):
        read_manifest(path)


def test_a_config_path_under_an_unknown_home_folder_names_the_path(tmp_path):
    from rnnkit.tasks.runner import load_config
    from rnnkit.training import ConfigError

    config = tmp_path / "c.toml"  # (before: RuntimeError from Path.expanduser)
    config.write_text('[task]\nname = "forecast"\ndata = "~nobody_here_at_all/s.csv"\n')
    with pytest.raises(ConfigError, match=r"task.data = .*~nobody_here_at_all/s.csv': no such"):
        load_config(config, [])  # read relative to the config's folder, as written


def test_a_list_file_that_is_not_utf8_names_its_line(tmp_path):
    from rnnkit.data.keywords import read_file_list

    path = tmp_path / "testing_list.txt"
    path.write_bytes(b"yes/a.wav\nno/caf\xe9.wav\n")
    with pytest.raises(DataError, match=r"testing_list.txt:2: not valid UTF-8 \(byte 0xe9\)"):
        read_file_list(path, {"yes/a.wav"})


def test_an_npz_needing_a_newer_zip_version_is_a_data_error(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, X=np.zeros((2, 3)))
    data = bytearray(buffer.getvalue())
    central = data.index(b"PK\x01\x02")  # the central directory's entry for X.npy
    data[central + 6:central + 8] = (64).to_bytes(2, "little")  # needs zip 6.4 to extract
    path = tmp_path / "new.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"new.npz: not a readable .npz file \(zip file version"):
        read_npz(path)


def test_a_ts_line_with_only_a_label_is_a_data_error(tmp_path):
    path = tmp_path / "short.ts"  # no @dimensions: the first line would set 0 channels
    path.write_text("@problemName p\n@classLabel true a b\n@data\na\n1,2:a\n")
    with pytest.raises(DataError, match=r"short.ts:4: no values, only a label 'a'"):
        read_ts(path)


# -- images ---------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["PNG", "JPEG", "BMP", "GIF"])
def image_bytes(request):
    Image = pytest.importorskip("PIL.Image", reason="images need the 'vision' extra (Pillow)")
    pixels = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=request.param)
    return buffer.getvalue()


@FUZZ
@given(changes=edits, cut=cuts)
def test_image_reader_gives_pixels_or_a_flickr_error(tmp_path, image_bytes, changes, cut):
    from rnnkit.data.flickr import FlickrError, read_image

    path = tmp_path / "damaged.img"
    path.write_bytes(damaged(image_bytes, changes, cut))
    try:
        image = read_image(path, 8)
    except FlickrError as e:
        _names_the_file(e, path)
        return
    assert image.shape == (3, 8, 8) and image.dtype == np.uint8
