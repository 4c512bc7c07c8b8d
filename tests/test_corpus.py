import numpy as np
import pytest
from synthetic import corpus_file as raw_corpus_file  # noqa: F401 (other tests import it from here)

from robojam import RobojamError
from robojam.core.corpus import (MAX_DT, clean, load_corpus_npz, load_performances, scored, select_split,
                            split_of, usable)
from robojam.core.performance import Performance, write_csv


MESSY = [
    [[0.5, 0.5, 0.0], [1.2, -0.1, 0.02], [0.5, 0.5, -0.01], [0.4, 0.4, 2300.0], [0.3, 0.3, 0.017]],
    [[0.2, 0.2, 0.0]],  # a single event
    [[0.1, 0.1, 0.0], [0.11, 0.1, 0.0167]],
]


def test_loads_raw_published_format_with_outliers(tmp_path):
    path = tmp_path / "corpus.npz"
    raw_corpus_file(path, MESSY)
    loaded = load_corpus_npz(path)
    assert [len(p) for p in loaded] == [5, 1, 2]
    np.testing.assert_allclose(loaded[0][3], [0.4, 0.4, 2300.0])  # raw, as recorded


def test_clean_clips_and_scored_mask_follows_raw_values():
    raw = np.array(MESSY[0])
    cleaned = clean(raw)
    assert cleaned[:, :2].min() >= 0 and cleaned[:, :2].max() <= 1
    assert cleaned[:, 2].min() >= 0 and cleaned[:, 2].max() == MAX_DT
    # first never; off-screen, negative dt and too-long dt are fed but not scored
    assert scored(raw).tolist() == [False, False, False, False, True]


def test_usable_drops_single_events_and_nan_rows():
    with_nan = np.array([[0.1, 0.1, 0.0], [np.nan, 0.2, 0.1], [0.2, 0.2, 0.1]])
    pairs = usable([np.array(p) for p in MESSY] + [with_nan])
    assert [len(c) for c, _ in pairs] == [5, 2, 2]


def test_split_is_stable_and_covers_everything():
    rng = np.random.default_rng(1)
    performances = [rng.random((10, 3)) for _ in range(300)]
    splits = [split_of(p) for p in performances]
    assert splits == [split_of(p.copy()) for p in performances]
    assert set(splits) == {"train", "val", "test"}
    total = sum(len(select_split(performances, s)) for s in ("train", "val", "test"))
    assert total == len(select_split(performances, "all")) == 300
    assert 0.7 < splits.count("train") / 300 < 0.9


def test_csv_folders_and_files_load_as_raw_arrays(tmp_path):
    (tmp_path / "set" / "sub").mkdir(parents=True)
    write_csv(Performance([[0, 0.1, 0.2, 0.5, 0], [0.5, 0.3, 0.4, 0.5, 1]]), tmp_path / "set" / "a.csv")
    write_csv(Performance([[0, 0.5, 0.5, 0.5, 0]]), tmp_path / "set" / "sub" / "b.csv")
    loaded = load_performances([tmp_path / "set", tmp_path / "set" / "a.csv"])
    assert [len(p) for p in loaded] == [2, 1, 2]
    np.testing.assert_allclose(loaded[0], [[0.1, 0.2, 0.0], [0.3, 0.4, 0.5]])


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a readable .npz"),
    (None, "no 'arr_0'"),
])
def test_bad_corpus_files(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, other=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(RobojamError, match=message):
        load_corpus_npz(path)


def test_wrong_shapes_and_missing_sources(tmp_path):
    path = tmp_path / "shape.npz"
    raw_corpus_file(path, [np.zeros((4, 2))])
    with pytest.raises(RobojamError, match=r"performance 0 has shape \(4, 2\)"):
        load_corpus_npz(path)
    with pytest.raises(RobojamError, match="no such file"):
        load_performances([tmp_path / "missing.npz"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RobojamError, match="no .csv performances"):
        load_performances([tmp_path / "empty"])
    with pytest.raises(RobojamError, match="expected a .npz"):
        (tmp_path / "x.txt").write_text("hi")
        load_performances([tmp_path / "x.txt"])
