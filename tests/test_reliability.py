"""Reliability, round two (issue #24): each class of defect walked through the CLI and the
API, each case one clear line (or a LightsepError), the right status, nothing written outside
the named outputs and nothing the user had replaced (docs/failures.md)."""

from pathlib import Path

import pytest

from lightsep.checkpoint import load_checkpoint
from lightsep.cli import main
from lightsep.errors import CheckpointError

from test_bad_inputs import forged_checkpoint, one_error_line, snapshot, song  # noqa: F401  (song is a fixture)

# --------------------------------------------------------------------------------------
# A. A checkpoint's names never become paths
# --------------------------------------------------------------------------------------

NAME_ATTACKS = [
    (dict(args=dict(sources=["../../evil", "accompaniment"])), "source '../../evil' is not a plain name"),
    (dict(args=dict(sources=["/tmp/evil", "accompaniment"])), "source '/tmp/evil' is not a plain name"),
    (dict(args=dict(sources=["voc\nals", "accompaniment"])), "is not a plain name"),
    (dict(args=dict(sources=["vocals", "vocals"])), "name a source twice"),
    (dict(args=dict(sources=["..", "accompaniment"])), "is not a plain name"),
    (dict(model_name="../../../tmp/x"), "model name '../../../tmp/x' is not a plain name"),
    (dict(model_name="runs/x"), "is not a plain name"),
]


@pytest.mark.parametrize("changes, message", NAME_ATTACKS)
def test_checkpoint_names_are_plain_unique_identifiers(tmp_path, capsys, song, changes, message):  # noqa: F811
    path = forged_checkpoint(tmp_path / "ck.pt", **changes)
    with pytest.raises(CheckpointError, match=message.split("'")[0]):
        load_checkpoint(path)
    before = snapshot(tmp_path)
    out = tmp_path / "deep" / "er" / "out"
    code = main(["separate", str(song), "-m", str(path), "-o", str(out), "--force"])
    one_error_line(capsys, code, contains=("is not a plain name" if "plain" in message else "twice",))
    code = main(["stream", str(song), "-m", str(path), "-o", str(out), "--force"])
    one_error_line(capsys, code)
    assert snapshot(tmp_path) == before and not out.exists()


# --------------------------------------------------------------------------------------
# B. --force never replaces the command's own input
# --------------------------------------------------------------------------------------


def test_separate_never_writes_its_stem_onto_its_input(tmp_path, capsys, song):  # noqa: F811
    out = tmp_path / "S"
    assert main(["separate", str(song), "-m", "tiny", "-o", str(out)]) == 0
    capsys.readouterr()
    stem = out / "tiny" / "song" / "vocals.wav"
    again = out / "tiny" / "vocals" / "vocals.wav"  # a stem separated again: its own stems go here
    again.parent.mkdir()
    again.hardlink_to(stem)
    before = snapshot(out)
    code = main(["separate", str(again), "-m", "tiny", "-o", str(out), "--force"])
    one_error_line(capsys, code, contains=("is this command's input",))
    assert snapshot(out) == before


def test_plot_and_report_never_replace_what_they_read(tmp_path, capsys):
    from helpers import make_musdb_hq

    data = make_musdb_hq(tmp_path / "hq", {"test": ["a"]}, seconds=2.0)
    results = tmp_path / "R"
    assert main(["evaluate", "-m", "mixture", "--data", str(data), "--out", str(results), "--quiet"]) == 0
    capsys.readouterr()
    run = tmp_path / "RUN"
    run.mkdir()
    (run / "log.csv").write_text("kind,phase,epoch,step,loss,lr,seconds\ntrain,main,0,1,0.5,0.001,1.0\n")
    before = snapshot(tmp_path)
    code = main(["report", str(results), "-o", str(results / "summary.json"), "--force"])
    one_error_line(capsys, code, contains=("is this command's input",))
    code = main(["plot", str(run), "-o", str(run / "log.csv"), "--force"])
    one_error_line(capsys, code, contains=("is this command's input",))
    assert snapshot(tmp_path) == before
