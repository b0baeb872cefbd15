"""Task ``classify`` on files as users' own data comes: the archive's regression files,
labels the training part lacks, ``.npz`` written from pandas or padded with NaN, long
tables with another label column, decimal commas or clock times. Each test is a bug found
by training on such a file (helper-57)."""

import re

import numpy as np
import pytest

import rnnkit
from rnnkit.data.datasets import DataError
from rnnkit.data.sequences import read_long_table, read_npz, read_ts
from rnnkit.tasks import TASKS, TaskError, train_run
from rnnkit.tasks.runner import config_from_raw

TASK = TASKS["classify"]


def _ctx(**task):
    raw = {"name": "c", "seed": 0, "task": {"name": "classify", **task},
           "model": {"cell": "gru", "hidden_size": 4},
           "train": {"steps": 2, "batch_size": 2, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    return TASK.setup(config_from_raw(raw, "t"))


def _ts(path, header, targets):
    """A univariate .ts file: one series of 4 steps per target."""
    rows = [f"{i},{i + 1},{i + 2},{i + 3}:{y}" for i, y in enumerate(targets)]
    path.write_text("@problemName Demo\n@univariate true\n@equalLength true\n"
                    f"{header}\n@data\n" + "\n".join(rows) + "\n")
    return str(path)


# -- the archive's regression files ---------------------------------------------------------
def test_a_ts_regression_file_trained_as_classes_says_to_set_target_value(tmp_path):
    """The Monash regression archive's files say @targetLabel true; with the default
    target "class" each distinct number became a class and the error blamed a validation
    label unseen in training."""
    path = _ts(tmp_path / "Energy_TRAIN.ts", "@targetLabel true",
               [f"{10 + i * 0.37:.2f}" for i in range(20)])
    with pytest.raises(TaskError, match=re.escape(
            f"{path}: @targetLabel true: the file holds a number to predict per series "
            '(regression); set task.target = "value"')):
        _ = _ctx(data=path).labels
    assert len(_ctx(data=path, target="value").sequences["train"]) == 16


def test_numbered_classes_may_still_be_regressed(tmp_path):
    """@classLabel true with numbers (ratings 1..3) may be read as values on purpose."""
    path = _ts(tmp_path / "r.ts", "@classLabel true 1 2 3", ["1", "2", "3"] * 4)
    ctx = _ctx(data=path, target="value")
    assert ctx.labels == [] and ctx.scaler["target_mean"] > 0


# -- classes only validation or test has ----------------------------------------------------
def test_a_class_the_training_part_lacks_names_the_classes_and_the_fixes(tmp_path):
    train = _ts(tmp_path / "a.ts", "@classLabel true up down left", ["up", "down"] * 3)
    test = _ts(tmp_path / "b.ts", "@classLabel true up down left", ["up", "left"])
    with pytest.raises(TaskError, match=re.escape(
            f"{test}:7: label 'left' in the test part is not one of the training part's "
            "classes ['down', 'up']: give training sequences of every class (with task.data, "
            "another task.split_seed may place one in training)") + "$"):
        _ = _ctx(train_data=train, test_data=test).labels


def test_numbers_as_classes_that_do_not_recur_suggest_regression(tmp_path):
    """A table or .npz of numbers to predict, trained with the default target "class"."""
    path = tmp_path / "y.npz"
    np.savez(path, X=np.arange(60.0).reshape(20, 3, 1), y=np.linspace(1.5, 9.0, 20))
    with pytest.raises(TaskError, match=re.escape(
            "'5.842105263157895'] ... (16 in all): give training sequences of every class "
            "(with task.data, another task.split_seed may place one in training); if the "
            "labels are numbers to predict, set task.target = \"value\"")):
        _ = _ctx(data=str(path)).labels


# -- .npz as users write them ---------------------------------------------------------------
def test_npz_labels_from_pandas_are_read_or_named(tmp_path):
    """``df["label"].values`` is an object array: it was blamed on a ragged X, and any
    other object array in the file (metadata) refused the whole file."""
    X = np.arange(24.0).reshape(4, 3, 2)
    path = tmp_path / "pandas.npz"
    np.savez(path, X=X, y=np.array(["walk", "run", "walk", "run"], dtype=object))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: y is an object array (as pandas' .values of strings is), which is not "
            "read (pickle can run code from the file): save y.astype(str)")):
        read_npz(path)
    np.savez(path, X=X, y=np.array(["walk", "run", "walk", "run"]),
             meta=np.array([{"subject": 1}], dtype=object), names=np.array(["ax", "ay"]))
    items = read_npz(path)
    assert [s.label for s in items] == ["walk", "run", "walk", "run"]
    np.testing.assert_array_equal(items[3].x, X[3])


def test_npz_rows_padded_with_nan_end_where_their_values_end(tmp_path):
    """tslearn pads variable-length series with NaN (to_time_series_dataset), as pivoting a
    long table does: those steps were read as missing values, filled with the training
    mean, and every sequence came out as long as the longest."""
    nan = np.nan
    X = np.array([[[1, 2], [nan, 3], [4, 5], [nan, nan]],    # a gap, then padding
                  [[1, 2], [3, nan], [nan, nan], [nan, nan]],  # one feature ends early
                  [[6, 7], [8, 9], [1, 1], [2, 2]]])
    path = tmp_path / "padded.npz"
    np.savez(path, X=X, y=np.array(["a", "b", "a"]))
    assert [s.x.shape for s in read_npz(path)] == [(3, 2), (2, 2), (4, 2)]
    np.testing.assert_array_equal(read_npz(path)[1].x, X[1, :2])
    np.savez(path, X=X, lengths=np.array([4, 4, 4]))  # lengths given: read as given
    assert [s.x.shape for s in read_npz(path)] == [(4, 2)] * 3
    X[1] = nan
    np.savez(path, X=X)
    with pytest.raises(DataError, match=re.escape(
            f"{path}: X[1] is NaN at every step: every sequence needs a value")):
        read_npz(path)


# -- long tables as users write them --------------------------------------------------------
def _long(path, header, rows):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def test_a_decimal_comma_in_a_long_table_is_read_or_named_with_its_fix(tmp_path):
    """A spreadsheet set to a decimal comma writes semicolons and 0,157: read as 0.157
    there; in a comma-separated table (quoted) it is named with its fix."""
    path = _long(tmp_path / "eu.csv", "id;t;ax;label", ["a;0;1,5;up", "a;1;0,157;up"])
    [seq] = read_long_table(path)
    np.testing.assert_array_equal(seq.x[:, 0], [1.5, 0.157])
    path = _long(tmp_path / "q.csv", "id,t,ax,label", ['a,0,"1,5",up', "a,1,0.157,up"])
    with pytest.raises(DataError, match=re.escape(
            f"{path}:2: column 'ax': '1,5' is not a number (a decimal comma? write a decimal "
            "point: '1.5')")):
        read_long_table(path)


def test_a_label_column_under_another_name_is_named_with_its_fix(tmp_path):
    """With the labels in a column "activity" (and task.label_column left at "label") the
    labels were read as a feature: "'sitting down' is not a number"."""
    rows = [f"r{i},{k},{k * 0.5},{('sitting down', 'standing up')[i % 2]}"
            for i in range(12) for k in range(3)]
    path = _long(tmp_path / "har.csv", "id,t,ax,activity", rows)
    with pytest.raises(TaskError, match=re.escape(
            f"{path}:2: column 'activity': 'sitting down' is not a number; the table has no "
            "column 'label': if 'activity' holds the labels, set task.label_column = "
            '"activity" (or name the features with task.value_columns)')):
        _ = _ctx(data=path).sequences
    assert len(_ctx(data=path, label_column="activity").sequences["train"]) == 10
    # a column of words that is neither the label nor a feature (a subject's name)
    rows = [f"r{i},{k},{k * 0.5},ann,{i % 2}" for i in range(6) for k in range(3)]
    path = _long(tmp_path / "subj.csv", "id,t,ax,subject,label", rows)
    with pytest.raises(TaskError, match=re.escape(
            f"{path}:2: column 'subject': 'ann' is not a number (leave a missing value "
            "empty, or write ? or NA; if 'subject' is not a feature, name the features with "
            'task.value_columns, e.g. ["ax"])')):
        _ = _ctx(data=path).sequences


def test_numeric_labels_under_another_name_say_which_key_names_them(tmp_path):
    rows = [f"r{i},{k},{k * 0.5},{i * 1.5}" for i in range(6) for k in range(3)]
    path = _long(tmp_path / "energy.csv", "id,t,ax,energy", rows)
    with pytest.raises(TaskError, match=re.escape(
            f"{path}:2: id r0: no label: {path} has no column 'label' (read as features: "
            "'ax', 'energy'); name the label column with task.label_column")):
        _ = _ctx(data=path, target="value").sequences


def test_a_missing_column_names_the_classify_keys(tmp_path):
    """The hint named task.text_column, a key of text classification."""
    path = _long(tmp_path / "time.csv", "id,time,ax,label", ["a,0,1,up"])
    with pytest.raises(DataError, match=re.escape(
            f"{path}: no column 't'; the columns are 'id', 'time', 'ax', 'label' (name the "
            "right ones with task.id_column, task.time_column, task.label_column, "
            "task.value_columns)")):
        read_long_table(path)


def test_clock_times_without_a_date_say_how_to_order_the_rows(tmp_path):
    """A logger's times of day (08:00:01.250) were refused without a way forward."""
    path = _long(tmp_path / "clock.csv", "id,t,ax,label",
                 ["a,08:00:01.250,1,up", "a,08:00:01.000,2,up"])
    with pytest.raises(DataError, match=re.escape(
            f"{path}:2: column 't': '08:00:01.250' is neither a number nor a date/time (ISO "
            "8601, or day/month/year as in 31/01/2024); a time of day alone cannot be ordered "
            "across midnight: write the date with it (2024-01-31 08:00:01.250), or set "
            'task.time_column = "" if the rows are in time order')):
        read_long_table(path)


# -- predicting on files ---------------------------------------------------------------------
def test_a_predict_file_with_other_features_names_the_training_features(tmp_path):
    """The error read "expected shape (T, 2) with T >= 1 ..., got (4, 3)": what the run
    reads, not which features nor what to give it."""
    rows = [f"r{i},{k},{k * (i % 2)},{k * 0.1},{'ab'[i % 2]}" for i in range(12) for k in range(4)]
    train = _long(tmp_path / "train.csv", "id,t,ax,ay,label", rows)
    raw = {"name": "c", "seed": 0, "task": {"name": "classify", "data": train},
           "model": {"cell": "gru", "hidden_size": 4},
           "train": {"steps": 1, "batch_size": 4, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    other = tmp_path / "three.ts"
    other.write_text("@problemName x\n@univariate false\n@dimensions 3\n@classLabel false\n"
                     "@data\n1,2:3,4:5,6\n")
    with pytest.raises(TaskError, match=re.escape(
            f"{other}:6: 3 feature(s) a step, but the run was trained on 2 ('ax', 'ay'): give "
            "it sequences of those features, in that order")):
        p.predict_file(other)
    with pytest.raises(TaskError, match=re.escape(  # arrays given in Python: as before
            "input 0: expected shape (T, 2) with T >= 1 (the model reads 2 feature(s)), got "
            "(2, 3)")):
        p.predict([np.zeros((2, 3))])


def test_arrays_with_channels_before_time_are_named_as_such(tmp_path):
    """aeon and sktime keep collections as (N, channels, time); read as (N, T, F) they were
    taken silently (at training) or refused without the fix (at prediction)."""
    rows = [f"r{i},{k},{k * (i % 2)},{k * 0.1},{'ab'[i % 2]}" for i in range(12) for k in range(4)]
    train = _long(tmp_path / "train.csv", "id,t,ax,ay,label", rows)
    raw = {"name": "c", "seed": 0, "task": {"name": "classify", "data": train},
           "model": {"cell": "gru", "hidden_size": 4},
           "train": {"steps": 1, "batch_size": 4, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    with pytest.raises(TaskError, match=re.escape(
            "input 0: expected shape (T, 2) with T >= 1 (the model reads 2 feature(s)), got "
            "(2, 5) (channels before time? give it transposed, time first)")):
        p.predict([np.zeros((2, 5))])
    with pytest.raises(TaskError, match=re.escape("got (3, 5)") + "$"):  # not 2 rows: no hint
        p.predict([np.zeros((3, 5))])
    path = tmp_path / "aeon.npz"
    np.savez(path, X=np.zeros((1, 2, 5)))
    with pytest.warns(UserWarning) as caught, pytest.raises(TaskError, match=re.escape(
            f"{path}: X[0]: 5 feature(s) a step, but the run was trained on 2 ('ax', 'ay'): "
            "give it sequences of those features, in that order (channels before time? give "
            "it transposed, time first)")):
        p.predict_file(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: X (1, 2, 5) is read as (N, T, F), 2 time step(s) of 5 features each; if "
        "its axes are (N, channels, time), as aeon and sktime keep them, save "
        "X.transpose(0, 2, 1)"]


def test_npz_warns_only_when_there_are_fewer_steps_than_features(tmp_path, recwarn):
    path = tmp_path / "x.npz"
    for shape in ((2, 3, 3), (2, 4, 3), (2, 1, 1), (2, 5)):
        np.savez(path, X=np.ones(shape))
        assert len(read_npz(path)) == 2
    assert not recwarn.list
    np.savez(path, X=np.ones((2, 2, 3)))
    with pytest.warns(UserWarning, match=re.escape("X (2, 2, 3) is read as (N, T, F), 2 time")):
        read_npz(path)


@pytest.mark.parametrize("header, line", [
    ("@univariate true", "1,2,3,4"),                # read as no values, only a label
    ("@univariate false\n@dimensions 3", "1,2:3,4:5,6"),  # read as 2 channels and a label
])
def test_a_ts_file_with_its_labels_stripped_says_so(tmp_path, header, line):
    """A test file whose labels were cut off but whose header still says @classLabel true
    (to predict on it): the errors blamed the values."""
    path = tmp_path / "unlabelled.ts"
    path.write_text(f"@problemName x\n{header}\n@classLabel true A B\n@data\n{line}\n")
    end = line.rsplit(":", 1)[-1]
    with pytest.raises(DataError, match=re.escape(
            f"{path}:{path.read_text().count(chr(10))}: no label: the line ends in values "
            f"('{end}'), but the header says @classLabel true: end each series with its "
            "label (...:A), or write @classLabel false for series without labels")):
        read_ts(path)


def test_a_table_without_the_id_column_is_one_sequence_to_predict(tmp_path):
    """`rnnkit predict --help` promises ".csv (one sequence)"; classify read every .csv as a
    long table and refused one without its id column."""
    rows = [f"r{i},{k},{k * (i % 2)},{k * 0.1},{'ab'[i % 2]}" for i in range(12) for k in range(4)]
    train = _long(tmp_path / "train.csv", "id,t,ax,ay,label", rows)
    raw = {"name": "c", "seed": 0, "task": {"name": "classify", "data": train},
           "model": {"cell": "gru", "hidden_size": 4},
           "train": {"steps": 1, "batch_size": 4, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    x = np.array([[0.0, 0.0], [1.0, 0.1], [2.0, 0.2]])
    [want] = p.predict([x])
    timed = _long(tmp_path / "one.csv", "t,ay,ax", ["2,0.2,2", "0,0,0", "1,0.1,1"])
    plain = _long(tmp_path / "plain.csv", "ax,ay", ["0,0", "1,0.1", "2,0.2"])
    for path in (timed, plain):
        [got] = p.predict_file(path)
        assert got == {"source": f"{path}:2", **want}
    with pytest.raises(TaskError, match=re.escape("no column 'id'")):  # training: an error
        _ = _ctx(data=plain).sequences


def test_npz_labels_as_a_column_or_one_hot_rows(tmp_path):
    """Keras and scikit-learn code keeps y as a column (N, 1), or one-hot (N, K): the
    column was refused, and neither error said what to save."""
    X = np.arange(24.0).reshape(4, 3, 2)
    path = tmp_path / "keras.npz"
    np.savez(path, X=X, y=np.array([[0], [1], [1], [0]]))
    assert [s.label for s in read_npz(path)] == ["0", "1", "1", "0"]
    np.savez(path, X=X, y=np.eye(2)[[0, 1, 1, 0]])
    with pytest.raises(DataError, match=re.escape(
            f"{path}: y must have shape (4,) like X's first axis, got (4, 2): one label per "
            "sequence (one-hot rows? save y.argmax(1))")):
        read_npz(path)


def test_an_infinite_value_in_training_data_is_named(tmp_path):
    """An inf (a division by zero upstream, 1e400 in a CSV) made the scaler's mean inf: a
    warning about 1 missing value, then 'non-finite gradient norm ... lower train.lr'."""
    X = np.arange(60.0).reshape(20, 3, 1)
    X[7, 2, 0] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(path, X=X, y=np.array(["a", "b"] * 10))
    with pytest.raises(TaskError, match=re.escape(
            f"{path}: X[7]: step 3, feature 1 is infinite (inf): write a number there, or "
            "mark it missing (NaN; ? or an empty cell in text files)")):
        _ = _ctx(data=str(path)).sequences
    rows = [f"r{i},{k},{'1e400' if (i, k) == (3, 1) else k},{'ab'[i % 2]}"
            for i in range(12) for k in range(3)]
    path = _long(tmp_path / "inf.csv", "id,t,ax,label", rows)
    with pytest.raises(TaskError, match=re.escape(
            f"{path}:11: id r3: step 2, feature 'ax' is infinite (inf)")):
        _ = _ctx(data=path).sequences


def test_a_label_changing_within_an_id_says_an_id_is_one_recording(tmp_path):
    """Ids that name a subject, not a recording (two activities of one subject)."""
    path = _long(tmp_path / "subjects.csv", "id,t,ax,label",
                 ["s1,0,1,walk", "s1,1,2,walk", "s1,0,3,run"])
    with pytest.raises(DataError, match=re.escape(
            f"{path}:4: 'label' = 'run', but line 2 gives the same sequence 'walk' (an id is "
            "one sequence with one label: if an id holds several recordings, give each its "
            "own id)")):
        read_long_table(path, time_column="")
    with pytest.raises(DataError, match=re.escape(  # (each recording's clock starts at 0)
            f"{path}:4: 't' = '0' repeats line 2 of the same sequence (an id is one sequence "
            "with one label: if an id holds several recordings, give each its own id)")):
        read_long_table(path)


def test_channels_of_unequal_length_in_a_ts_line_say_how_to_pad(tmp_path):
    path = tmp_path / "u.ts"
    path.write_text("@univariate false\n@dimensions 2\n@classLabel true a\n@data\n1,2,3:4,5:a\n")
    with pytest.raises(DataError, match=re.escape(
            f"{path}:5: the channels of one series must be equally long, got [3, 2] values "
            "(pad the shorter ones with ? at the end: missing values)")):
        read_ts(path)


def test_array_files_padded_with_nan_predict_as_their_unpadded_sequences(tmp_path):
    """An .npy batch of sequences of different lengths, NaN-padded as an .npz may be: the
    padding was read as missing values (filled with the training mean, and a warning)."""
    rows = [f"r{i},{k},{k * (i % 2)},{k * 0.1},{'ab'[i % 2]}" for i in range(12) for k in range(4)]
    train = _long(tmp_path / "train.csv", "id,t,ax,ay,label", rows)
    raw = {"name": "c", "seed": 0, "task": {"name": "classify", "data": train},
           "model": {"cell": "gru", "hidden_size": 4},
           "train": {"steps": 1, "batch_size": 4, "threads": 1, "progress": "off"},
           "diagnostics": {"every": 0}}
    train_run(config_from_raw(raw, "t"), tmp_path / "run")
    p = rnnkit.load(tmp_path / "run")
    short, long = np.array([[0.0, 0.0], [1.0, 0.1]]), np.array([[0.0, 1], [1, np.nan], [2, 2]])
    want = p.predict([short, long])
    assert "warning" in want[1] and "warning" not in want[0]  # the NaN inside is missing
    batch = np.full((2, 4, 2), np.nan)
    batch[0, :2], batch[1, :3] = short, long
    np.save(tmp_path / "x.npy", batch)
    assert p.predict_file(tmp_path / "x.npy") == want
    batch[1] = np.nan
    np.save(tmp_path / "x.npy", batch)
    with pytest.raises(TaskError) as e:
        p.predict_file(tmp_path / "x.npy")
    assert str(e.value) == (f"{tmp_path / 'x.npy'}: sequence 1 is NaN at every step: every "
                            "sequence needs a value")


def test_one_feature_sequences_and_empty_ones_are_unpadded_as_they_are():
    from rnnkit.tasks.classify_predictor import _unpadded

    np.testing.assert_array_equal(_unpadded("f", 0, np.array([1.0, np.nan, 2, np.nan])),
                                  [1.0, np.nan, 2])  # (T,): one feature a step
    assert _unpadded("f", 0, np.zeros((0, 2))).shape == (0, 2)  # left to predict's check
    assert _unpadded("f", 0, np.array([3, 4])).tolist() == [3, 4]  # integers
