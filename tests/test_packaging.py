import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_model_the_web_page_and_the_presets(robojam_wheel):
    names = zipfile.ZipFile(robojam_wheel).namelist()
    assert "robojam/models/default/model.json" in names
    assert "robojam/models/default/weights.npz" in names
    assert "robojam/models/default/selector.npz" in names
    assert not any("checkpoints" in n for n in names)
    assert "robojam/core/engine.py" in names and "robojam/live/server.py" in names
    for page in ("index.html", "app.js", "style.css"):
        assert f"robojam/webclient/{page}" in names
    presets = {p.name for p in (ROOT / "server" / "presets").glob("*.toml")}
    assert presets and all(f"robojam/presets/{name}" in names for name in presets)
