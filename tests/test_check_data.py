import json

import numpy as np

from helpers import make_ccmixter, make_musdb_hq, make_musdb_stem_mp4
from lightsep.audio import write_audio
from lightsep.cli import main


def run_json(root, capsys):
    code = main(["check-data", str(root), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_clean_trees_of_each_layout(tmp_path, capsys):
    trees = {
        "musdb18hq": make_musdb_hq(tmp_path / "hq", {"train": ["a"], "test": ["b"]}, seconds=1.0),
        "ccmixter": make_ccmixter(tmp_path / "cc", ["s"], seconds=1.0),
        "musdb18": make_musdb_stem_mp4(tmp_path / "mp4", {"test": ["m"]}, seconds=1.0),
    }
    for layout, root in trees.items():
        code, report = run_json(root, capsys)
        assert code == 0 and report["layout"] == layout
        for track in report["tracks"]:
            assert set(track) == {"name", "subset", "duration_s", "sample_rate", "stems", "problems", "channels"}
            assert track["problems"] == [] and track["sample_rate"] == 44100
            assert abs(track["duration_s"] - 1.0) < 0.05
    _, report = run_json(trees["musdb18"], capsys)
    assert report["tracks"][0]["stems"] == ["mixture", "drums", "bass", "other", "vocals"]


def test_a_broken_tree_reports_every_problem(tmp_path, capsys):
    root = make_musdb_hq(tmp_path / "hq", {"train": ["missing", "rate", "length", "corrupt", "fine"]}, seconds=1.0)
    (root / "train" / "missing" / "vocals.wav").unlink()
    write_audio(root / "train" / "rate" / "bass.wav", np.zeros((2, 22050), np.float32), 22050)
    write_audio(root / "train" / "length" / "drums.wav", np.zeros((2, 30000), np.float32), 44100)
    (root / "train" / "corrupt" / "other.wav").write_bytes(b"RIFF garbage")
    code, report = run_json(root, capsys)
    assert code == 1
    problems = {t["name"]: " | ".join(t["problems"]) for t in report["tracks"]}
    assert "missing stem vocals" in problems["missing"]
    assert "sample rates differ" in problems["rate"]
    assert "lengths differ" in problems["length"]
    assert "unreadable other" in problems["corrupt"]
    assert problems["fine"] == ""
    # the text report says the same, and exits non-zero too
    assert main(["check-data", str(root)]) == 1
    out = capsys.readouterr().out
    assert "problem: missing stem vocals" in out and "4 problem(s) found" in out


def test_not_a_dataset(tmp_path, capsys):
    assert main(["check-data", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
