import json
import subprocess
import sys

from lightsep.cli import main


def test_info_json_has_exactly_the_documented_keys(capsys):
    assert main(["info", "--json", "tiny", "proposed-2stem"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {"name", "stems", "sample_rate", "context_samples", "output_samples", "parameters", "receptive_field_s",
            "target_field_s", "gflops_per_audio_second", "stream_latency_s", "weights", "trained", "default_for",
            "bundled_weights"}
    assert [set(r) for r in rows] == [keys, keys]
    assert rows[0]["bundled_weights"] is False and rows[0]["weights"] is None  # tiny is for tests: never trained
    assert rows[1]["stems"] == ["vocals", "accompaniment"] and rows[1]["trained"] is True
    proposed = rows[1]
    assert proposed["name"] == "proposed-2stem"
    assert 800_000 <= proposed["parameters"] <= 900_000
    assert proposed["context_samples"] == proposed["output_samples"] == 16384
    assert proposed["receptive_field_s"] == proposed["target_field_s"] == round(16384 / 22050, 4)
    assert proposed["gflops_per_audio_second"] <= 1.3


def test_info_table(capsys):
    assert main(["info", "tiny"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["model", "stems", "rate", "latency"]
    assert out[2].startswith("tiny")


def test_unknown_model_is_one_line_on_stderr():
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "info", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown model 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_breakdown_adds_up_to_the_totals(capsys):
    from lightsep.analysis import budget_breakdown, count_parameters, gflops_per_audio_second
    from lightsep.models import build_model

    for name in ("proposed-2stem", "ablation-c", "waveunet-m2"):
        model = build_model(name)
        rows = budget_breakdown(model)
        assert sum(r.parameters for r in rows) == count_parameters(model)
        assert abs(sum(r.gflops_per_audio_second for r in rows) - gflops_per_audio_second(model)) < 2e-3
    assert main(["info", "--breakdown", "tiny"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny: ") and "encoder.0" in out and "aspp.atrous" in out


def test_info_describes_a_checkpoint_file_as_it_was_saved(tmp_path, capsys):
    from lightsep.analysis import count_parameters
    from lightsep.checkpoint import save_checkpoint
    from lightsep.models import build_model

    model = build_model("spectral-2stem", hidden=32, frequency_channels=[4, 8], time_kernel=3)  # not the preset's network
    path = save_checkpoint(model, tmp_path / "run.pt")
    assert main(["info", "--json", str(path), "spectral-2stem"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == str(path) and rows[0]["bundled_weights"] is False
    assert rows[0]["parameters"] == count_parameters(model) != rows[1]["parameters"]
    assert main(["info", "--breakdown", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: {count_parameters(model):,} parameters")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    result = subprocess.run([sys.executable, "-m", "lightsep.cli", "info", str(tmp_path / "junk.pt")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "not a lightsep checkpoint" in result.stderr
