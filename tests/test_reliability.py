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
