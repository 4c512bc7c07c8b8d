import json

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.engine import Engine
from robojam.core.modelfile import load_model, save_model


def test_save_and_load_round_trip(tmp_path, tiny_model):
    tiny_model.metadata = {"training": {"seed": 3}}
    folder = save_model(tiny_model, tmp_path / "m")
    loaded = load_model(folder / "model.json")
    assert (loaded.layers, loaded.units, loaded.mixtures) == (2, 16, 3)
    assert loaded.encoding.to_dict() == tiny_model.encoding.to_dict()
    assert loaded.metadata["training"] == {"seed": 3}
    for name, array in tiny_model.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], array)
    with np.load(folder / "weights.npz", allow_pickle=False) as archive:  # plain arrays, no pickles
        assert set(archive.files) == set(tiny_model.weights)


def corrupt(folder, how):
    meta = json.loads((folder / "model.json").read_text())
    if how == "not json":
        (folder / "model.json").write_text("{oops")
    elif how == "wrong format":
        meta["format"] = "something-else"
        (folder / "model.json").write_text(json.dumps(meta))
    elif how == "future version":
        meta["format_version"] = 99
        (folder / "model.json").write_text(json.dumps(meta))
    elif how == "unknown encoding":
        meta["encoding"] = {"name": "wavelets"}
        (folder / "model.json").write_text(json.dumps(meta))
    elif how == "truncated weights":
        data = (folder / "weights.npz").read_bytes()
        (folder / "weights.npz").write_bytes(data[: len(data) // 2])
    elif how == "wrong shape":
        meta["architecture"]["units"] = 17
        (folder / "model.json").write_text(json.dumps(meta))
    elif how == "nan weights":
        with np.load(folder / "weights.npz") as archive:
            weights = dict(archive)
        weights["lstm0_bias"][0] = np.nan
        np.savez(folder / "weights.npz", **weights)
    elif how == "missing weights":
        (folder / "weights.npz").unlink()


@pytest.mark.parametrize("how, message", [
    ("not json", "not valid JSON"),
    ("wrong format", "not a robojam model"),
    ("future version", "format version 99"),
    ("unknown encoding", "unknown encoding 'wavelets'"),
    ("truncated weights", "corrupt"),
    ("wrong shape", "has shape"),
    ("nan weights", "NaN"),
    ("missing weights", "missing weights.npz"),
])
def test_corrupt_models_give_clear_errors(tmp_path, tiny_model, how, message):
    folder = save_model(tiny_model, tmp_path / "m")
    corrupt(folder, how)
    with pytest.raises(RobojamError, match=message):
        load_model(folder)


def test_missing_model_folder(tmp_path):
    with pytest.raises(RobojamError, match="no such model folder"):
        load_model(tmp_path / "nowhere")


def test_shipped_default_model_loads_and_responds():
    model = load_model()
    assert model.metadata["score"]["nll_per_event"] < 0
    response = Engine(model).respond(np.array([[0.5, 0.5, 0.0], [0.52, 0.5, 0.0167]]), 2.0,
                                     np.random.default_rng(0))
    assert len(response) > 1
