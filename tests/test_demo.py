"""The README's first command: ``examples/demo.py`` on the example song that ships with the repository."""

import json
import subprocess
import sys

import pytest

from helpers import ROOT, load_script

pytest.importorskip("museval")
pytest.importorskip("matplotlib")

DEMO_SCRIPT = "examples/demo.py"
DEMO = ROOT / DEMO_SCRIPT


def load_demo():
    return load_script(DEMO_SCRIPT)


@pytest.mark.parametrize("song,seconds,silent", [("everything-is-remixed-lithium", 18, {"bass"}), ("procedural-song", 10, set())])
def test_the_example_songs_are_small_and_their_stems_sum_to_the_mixture(song, seconds, silent):
    files = sorted((ROOT / "examples" / song).iterdir())
    assert sum(f.stat().st_size for f in files) < 1_000_000
    stems, rate = load_demo().load_song(ROOT / "examples" / song)
    assert rate == 44100 and stems["mixture"].shape == (2, seconds * rate)
    assert abs(stems["mixture"] - stems["vocals"] - stems["accompaniment"]).max() < 1e-6
    assert {s for s in ("vocals", "drums", "bass", "other") if float((stems[s] ** 2).mean()) < 1e-5} == silent
    assert all(not stems[s].any() for s in silent)  # exactly silent, so the demo leaves it unscored


def test_the_demo_writes_stems_scores_and_a_picture(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, str(DEMO), "-m", "tiny", "-o", str(out), "--quiet"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = out / "tiny" / "everything-is-remixed-lithium"
    assert sorted(p.name for p in folder.iterdir()) == ["accompaniment.wav", "vocals.wav"]
    assert (out / "tiny" / "everything-is-remixed-lithium.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = json.loads((out / "tiny" / "everything-is-remixed-lithium.json").read_text())
    assert set(scores["sdr"]) == set(scores["mixture_sdr"]) == {"vocals", "accompaniment"}
    table = [line.split() for line in result.stdout.splitlines() if line.startswith(("vocals", "accompaniment"))]
    assert [row[0] for row in table] == ["vocals", "accompaniment"]
    assert float(table[0][1]) == pytest.approx(scores["sdr"]["vocals"], abs=0.006)


def test_a_bad_model_is_one_line_on_stderr(tmp_path):
    result = subprocess.run([sys.executable, str(DEMO), "-m", str(tmp_path / "missing.pt"), "-o", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("demo: error:") and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("model", ["spectral-2stem-ensemble", "spectral-2stem", "proposed-2stem"])
def test_the_bundled_model_separates_the_real_song_it_never_saw(tmp_path, model):
    """The real excerpt is held out of every configuration (examples/make_real_example.py)."""
    from lightsep.pretrained import pretrained_checkpoint

    if pretrained_checkpoint(model) is None:
        pytest.fail(f"no bundled {model} weights")
    result = load_demo().run(model, tmp_path, quiet=True)
    gain = {name: result["sdr"][name] - result["mixture_sdr"][name] for name in ("vocals", "accompaniment")}
    assert gain["vocals"] >= 6.0 and gain["accompaniment"] > 0.0, result


def test_the_real_songs_silent_bass_is_left_unscored_and_the_other_stems_scored_together():
    from lightsep.evaluate import score_track

    stems, rate = load_demo().load_song(ROOT / "examples" / "everything-is-remixed-lithium")
    estimates = {n: stems[n] for n in ("vocals", "drums", "bass", "other", "accompaniment")}
    scores = score_track("x", stems, estimates, rate).scores
    assert sorted(t["name"] for t in scores["targets"]) == ["accompaniment", "drums", "other", "vocals"]
