import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_model_the_web_page_and_the_presets(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("robojam-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "robojam/models/default/model.json" in names
    assert "robojam/models/default/weights.npz" in names
    assert "robojam/models/default/selector.npz" in names
    assert not any("checkpoints" in n for n in names)
    assert "robojam/core/engine.py" in names and "robojam/live/server.py" in names
    for page in ("index.html", "app.js", "style.css"):
        assert f"robojam/webclient/{page}" in names
    presets = {p.name for p in (ROOT / "server" / "presets").glob("*.toml")}
    assert presets and all(f"robojam/presets/{name}" in names for name in presets)
