"""The README's first command: ``examples/demo.py`` on the example song that ships with the repository."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("museval")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("lightsep_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_song_is_small_and_its_stems_sum_to_the_mixture():
    files = sorted((ROOT / "examples" / "procedural-song").iterdir())
    assert sum(f.stat().st_size for f in files) < 1_000_000
    stems, rate = load_demo().load_song()
    assert rate == 44100 and stems["mixture"].shape == (2, 10 * rate)
    assert abs(stems["mixture"] - stems["vocals"] - stems["accompaniment"]).max() < 1e-6
    assert min(float((stems[s] ** 2).mean()) for s in ("vocals", "drums", "bass", "other")) > 1e-5  # no silent stem


def test_the_demo_writes_stems_scores_and_a_picture(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, str(DEMO), "-m", "tiny", "-o", str(out), "--quiet"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = out / "tiny" / "procedural-song"
    assert sorted(p.name for p in folder.iterdir()) == ["accompaniment.wav", "vocals.wav"]
    assert (out / "tiny" / "procedural-song.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = json.loads((out / "tiny" / "procedural-song.json").read_text())
    assert set(scores["sdr"]) == set(scores["mixture_sdr"]) == {"vocals", "accompaniment"}
    table = [line.split() for line in result.stdout.splitlines() if line.startswith(("vocals", "accompaniment"))]
    assert [row[0] for row in table] == ["vocals", "accompaniment"]
    assert float(table[0][1]) == pytest.approx(scores["sdr"]["vocals"], abs=0.006)


def test_a_bad_model_is_one_line_on_stderr(tmp_path):
    result = subprocess.run([sys.executable, str(DEMO), "-m", str(tmp_path / "missing.pt"), "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("demo: error:") and len(result.stderr.splitlines()) == 1


def test_the_bundled_model_improves_vocals_by_3_db_on_a_song_it_never_saw(tmp_path):
    from lightsep.pretrained import pretrained_checkpoint

    if pretrained_checkpoint("proposed-2stem") is None:
        pytest.fail("no bundled proposed-2stem weights")
    result = load_demo().run("proposed-2stem", tmp_path, quiet=True)
    gain = result["sdr"]["vocals"] - result["mixture_sdr"]["vocals"]
    assert gain >= 3.0, result
    assert result["sdr"]["accompaniment"] > result["mixture_sdr"]["accompaniment"], result
