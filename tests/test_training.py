import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import ROOT, make_musdb_hq
from lightsep.checkpoint import save_checkpoint
from lightsep.cli import main
from lightsep.models.registry import build_model
from lightsep.config import ConfigError, load_config

TINY = """
name = "tiny-test"
[model]
name = "tiny"
[data]
workers = 0
[training]
iterations_per_epoch = 4
checkpoint_every = 1
log_every = 2
[training.main]
lr = 1e-3
batch_size = 4
patience = 50
[training.finetune]
lr = 1e-4
batch_size = 4
patience = 2
max_epochs = 2
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_musdb_hq(tmp_path_factory.mktemp("data") / "hq", {"train": ["a", "b", "c", "d"], "test": ["e"]}, seconds=1.0)


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def lightsep(*args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "lightsep.cli", *args], env=env, **kwargs)


def read_state(path):
    return torch.load(path, weights_only=True)


def test_print_config_shows_the_papers_recipe(capsys):
    assert main(["train", "--config", str(ROOT / "configs" / "table3-proposed-2stem.toml"), "--print-config"]) == 0
    config = json.loads(capsys.readouterr().out)
    training = config["training"]
    assert training["main"] == {"lr": 1e-5, "batch_size": 32, "patience": 30, "max_epochs": 0, "max_seconds": 0.0,
                                "enabled": True}
    assert training["finetune"]["lr"] == 1e-6 and training["finetune"]["batch_size"] == 32
    assert training["finetune"]["patience"] == 30 and training["iterations_per_epoch"] == 2000
    assert training["betas"] == [0.9, 0.999] and config["model"]["name"] == "proposed-2stem"
    assert config["data"]["gain_min"] == 0.7 and config["data"]["gain_max"] == 1.0


def test_every_config_file_loads():
    files = sorted((ROOT / "configs").rglob("*.toml"))
    assert len(files) >= 11
    for path in files:
        config = load_config(path)
        assert config.name == path.stem and config.description
    wun = load_config(ROOT / "configs" / "waveunet-m4.toml").training
    assert (wun.main.lr, wun.main.batch_size, wun.main.patience) == (1e-4, 16, 20)
    assert (wun.finetune.lr, wun.finetune.batch_size) == (1e-5, 32)


def test_bad_keys_and_types_are_named(tiny_config, capsys):
    with pytest.raises(ConfigError, match=r"unknown key 'training.main.lrr'; valid keys in \[training.main\]: lr, "):
        load_config(tiny_config, ["training.main.lrr=1"])
    with pytest.raises(ConfigError, match="training.main.batch_size must be an integer, got 'x'"):
        load_config(tiny_config, ["training.main.batch_size=x"])
    with pytest.raises(ConfigError, match="unknown key 'modle'"):
        load_config(tiny_config, ["modle.name=tiny"])
    with pytest.raises(ConfigError, match="unknown model"):
        load_config(tiny_config, ["model.name=nope"])
    assert main(["train", "--config", str(tiny_config), "--set", "data.gains=1", "--print-config"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def data_args(data) -> list[str]:
    return [] if data is None else ["--data", str(data)]  # None: the configuration names its datasets


def run_to_end(config, data, run_dir, iterations, *extra):
    process = lightsep("train", "--config", str(config), *data_args(data), "--run-dir", str(run_dir),
                       "--max-iterations", str(iterations), "--quiet", *extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()  # never leave a run behind when the test fails
    assert process.returncode == 0, err.decode()
    return out.decode()


MIXED = '''
[data]
workers = 0
valid_dataset = "hq"
[[data.datasets]]
name = "hq"
root = "{hq}"
weight = 2.0
[[data.datasets]]
name = "more"
root = "{more}"
split = "train"
[data.augment]
remix = 0.5
channel_swap = 0.5
polarity = 0.5
eq = 0.5
'''


@pytest.fixture
def mixed_config(tiny_config, dataset, tmp_path):
    """The tiny recipe on two datasets with every augmentation, from given weights, with a
    moving average of the weights."""
    more = make_musdb_hq(tmp_path / "more", {"train": ["p", "q"]}, seconds=1.5)
    init = save_checkpoint(build_model("tiny"), tmp_path / "init.pt")
    text = tiny_config.read_text().replace("[data]\nworkers = 0\n", "")
    text = text.replace("[training]\n", "[training]\nema_decay = 0.9\n")  # validated and saved: the average
    text = text.replace('[model]\nname = "tiny"', f'[model]\nname = "tiny"\ninit = "{init}"')
    path = tmp_path / "mixed.toml"
    path.write_text(text + MIXED.format(hq=dataset, more=more))
    return path


@pytest.mark.parametrize("recipe", ["paper", "mixed"])
def test_sigkill_and_resume_is_bit_identical(tiny_config, mixed_config, dataset, tmp_path, recipe):
    k = 10
    if recipe == "mixed":
        tiny_config, dataset = mixed_config, None
    run_to_end(tiny_config, dataset, tmp_path / "straight", 2 * k)

    killed = tmp_path / "killed"
    process = lightsep("train", "--config", str(tiny_config), *data_args(dataset), "--run-dir", str(killed),
                       "--max-iterations", str(2 * k), "--quiet", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    step = 0
    deadline = time.time() + 120
    try:
        while step < k and time.time() < deadline:
            try:
                step = read_state(killed / "state.pt")["progress"]["step"]
            except (FileNotFoundError, RuntimeError, EOFError):
                pass
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    at_kill = read_state(killed / "state.pt")["progress"]["step"]
    assert k <= at_kill < 2 * k, "the run must be killed part-way"

    run_to_end(tiny_config, dataset, killed, 2 * k, "--resume")

    a, b = read_state(tmp_path / "straight" / "state.pt"), read_state(killed / "state.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 2 * k
    for name, tensor in a["model"]["state_dict"].items():
        assert torch.equal(tensor, b["model"]["state_dict"][name]), name
    for slot, values in a["optimizer"]["state"].items():
        for key, tensor in values.items():
            assert torch.equal(tensor, b["optimizer"]["state"][slot][key])
    assert a["progress"]["history"] == b["progress"]["history"]
    assert ("average" in a) == ("average" in b) == (recipe == "mixed")
    for name, tensor in a.get("average", {}).items():
        assert torch.equal(tensor, b["average"][name]), name
    straight_log = [l.split(",")[:5] for l in (tmp_path / "straight" / "log.csv").read_text().splitlines()]
    killed_log = [l.split(",")[:5] for l in (killed / "log.csv").read_text().splitlines()]
    assert straight_log == killed_log  # the log is rewritten past the resume point, not duplicated
    assert not list(killed.glob(".*partial*"))


def test_a_whole_run_finishes_both_phases_and_keeps_the_best(tiny_config, dataset, tmp_path):
    out = run_to_end(tiny_config, dataset, tmp_path / "run", 0, "--set", "training.main.max_epochs=3")
    assert "finished" in out
    state = read_state(tmp_path / "run" / "state.pt")
    progress = state["progress"]
    assert progress["finished"] and progress["phase"] == "finetune"
    losses = [h["valid_loss"] for h in progress["history"]]
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["metadata"]["valid_loss"] == min(losses) == progress["best_loss"]
    from lightsep import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "best.pt").name == "tiny"
    png = tmp_path / "loss.png"
    assert main(["plot", str(tmp_path / "run"), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_time_budget_cuts_each_phase_short_and_validates_it(tiny_config, dataset, tmp_path):
    out = run_to_end(tiny_config, dataset, tmp_path / "run", 0, "--set", "training.iterations_per_epoch=100000",
                     "--set", "training.main.max_seconds=1.0", "--set", "training.finetune.max_seconds=0.5")  # fmt: skip
    assert "finished" in out
    progress = read_state(tmp_path / "run" / "state.pt")["progress"]
    assert progress["finished"] and progress["phase"] == "finetune"
    # one cut-short epoch per phase, each validated
    assert [h["phase"] for h in progress["history"]] == ["main", "finetune"]
    main_steps = progress["history"][0]["step"]
    assert 0 < main_steps < 100000 and main_steps < progress["step"] < main_steps + 100000
    assert progress["phase_started_seconds"] >= 1.0 and progress["seconds"] >= progress["phase_started_seconds"] + 0.5


def torchrun(module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m module args`` in two processes under torchrun, on a free local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), "-m", module, *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def test_two_processes_with_torchrun(tiny_config, dataset, tmp_path):
    result = torchrun("lightsep.cli", "train", "--config", str(tiny_config), "--data", str(dataset),
                      "--run-dir", str(tmp_path / "ddp"), "--max-iterations", "8", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr  # whole: the first line tells
    assert result.stdout.count("tiny-test: stopped at iteration 8") == 1  # only rank 0 reports
    best = torch.load(tmp_path / "ddp" / "best.pt", weights_only=True)
    assert best["metadata"]["world_size"] == 2
    state = read_state(tmp_path / "ddp" / "state.pt")
    # two epochs of 4 iterations: the cap stops training at once, so the second epoch's
    # validation is left for a resumed run
    assert state["progress"]["step"] == 8 and len(state["progress"]["history"]) == 1


def test_processes_hold_the_same_model_after_the_switch_to_fine_tuning(tiny_config, dataset, tmp_path):
    # the main phase ends right after a validation that rewrote best.pt; every process must
    # fine-tune from that file's weights, not from an older copy of it
    result = torchrun("ddp_probe", "train", "--config", str(tiny_config), "--data", str(dataset),
                      "--run-dir", str(tmp_path / "ddp"), "--set", "training.main.max_epochs=2",
                      "--set", "training.finetune.max_epochs=1", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    state = read_state(tmp_path / "ddp" / "state.pt")
    assert state["progress"]["finished"] and state["progress"]["finetune_from_step"] >= 0
    hashes = [(tmp_path / f"parameters-rank{rank}.sha256").read_text() for rank in (0, 1)]
    assert hashes[0] == hashes[1]


def test_resume_refuses_another_configuration(tiny_config, dataset, tmp_path, capsys):
    run_to_end(tiny_config, dataset, tmp_path / "run", 2)
    code = main(["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "run"),
                 "--set", "training.main.lr=0.5", "--resume", "--quiet"])  # fmt: skip
    assert code == 2 and "differs in: training.main.lr" in capsys.readouterr().err


def test_resume_compares_the_network_not_how_the_configuration_spelled_it(tiny_config, dataset, tmp_path, capsys):
    # a run whose configuration now gives the preset's own arguments explicitly (as the spectral
    # configurations give their training geometry) is the same run; other arguments are not
    run_to_end(tiny_config, dataset, tmp_path / "run", 2)
    same = ["--set", "model.args={context_samples = 1024}"]
    common = ["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "run"), "--resume",
              "--quiet", "--max-iterations", "3"]  # fmt: skip
    assert main(common + same) == 0, capsys.readouterr().err
    assert main(common + ["--set", "model.args={separable_kernel = 3}"]) == 2
    assert "differs in: model.args" in capsys.readouterr().err


def test_the_snr_loss_is_each_sources_error_in_decibels_with_silent_sources_left_out():
    from lightsep.training import separation_loss, snr_terms

    generator = torch.Generator().manual_seed(0)
    targets = torch.randn(3, 2, 2, 500, generator=generator)
    targets[2, 0] = 0.0  # example 2's first source is silent
    estimates = targets + 0.1 * torch.randn(targets.shape, generator=generator)
    values, present = snr_terms(estimates, targets, snr_max_db=30.0)
    error = (estimates - targets).square().sum(dim=(2, 3))
    energy = targets.square().sum(dim=(2, 3))
    mixture = targets.sum(dim=1).square().sum(dim=(1, 2))[:, None]
    assert torch.allclose(values, 10 * torch.log10(error + 1e-3 * energy + 1e-8 * mixture), atol=1e-4)
    assert present.tolist() == [[1, 1], [1, 1], [0, 1]]
    assert torch.isclose(separation_loss(estimates, targets, "snr"), values[present.bool()].mean())
    # a perfect estimate is worth the ceiling, snr_max_db below the source, and no more
    perfect, _ = snr_terms(targets, targets, snr_max_db=20.0)
    assert torch.allclose(perfect[:2], 10 * torch.log10(energy[:2] * 1e-2), atol=1e-3)
    # zero padding (weight 0) counts neither in the error nor in the source's energy
    padded = torch.cat([targets, torch.randn(3, 2, 2, 100, generator=generator)], dim=-1)
    weight = torch.cat([torch.ones(3, 500), torch.zeros(3, 100)], dim=1)
    again, _ = snr_terms(torch.cat([estimates, torch.zeros(3, 2, 2, 100)], dim=-1), padded, 30.0, weight)
    assert torch.allclose(again, values, atol=1e-4)
    assert separation_loss(estimates, targets) == torch.nn.functional.mse_loss(estimates, targets)


def test_snr_loss_and_moving_average_runs_validate_save_and_resume_as_configured(tiny_config, dataset, tmp_path, capsys):
    options = ["--set", "training.loss=snr", "--set", "training.ema_decay=0.5"]
    run_to_end(tiny_config, dataset, tmp_path / "run", 0, *options, "--set", "training.main.max_epochs=1",
               "--set", "training.finetune.enabled=false")  # fmt: skip
    state = read_state(tmp_path / "run" / "state.pt")
    assert state["progress"]["finished"] and state["progress"]["step"] == 4
    losses = [h["valid_loss"] for h in state["progress"]["history"]]
    assert len(losses) == 1 and -100 < losses[0] < 100  # decibels, not a mean square
    # the average is what was validated and saved, not the last trained weights
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dict"]
    average = {name.removeprefix("module."): tensor for name, tensor in state["average"].items() if name.startswith("module.")}
    trained = state["model"]["state_dict"]
    assert best.keys() == trained.keys() and all(torch.equal(best[name], average[name]) for name in best)
    assert any(not torch.equal(best[name], trained[name]) for name in best)
    # a run resumes only with the loss and the average it started with
    common = ["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "run"), "--resume",
              "--quiet", "--set", "training.main.max_epochs=1", "--set", "training.finetune.enabled=false"]  # fmt: skip
    assert main(common + options[:2]) == 2 and "differs in: training.ema_decay" in capsys.readouterr().err
    assert main(common + options[2:]) == 2 and "differs in: training.loss" in capsys.readouterr().err
    assert main(common + options) == 0, capsys.readouterr().err
    for override, message in [("training.loss=l1", "training.loss must be one of mse, snr, high-snr, got 'l1'"),
                              ("training.snr_max_db=0", r"training.snr_max_db must be in \(0, 100\]"),
                              ("training.ema_decay=1.0", r"training.ema_decay must be in \[0, 1\), got 1.0")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            load_config(tiny_config, [override])


def test_resume_takes_a_new_time_budget(tiny_config, dataset, tmp_path, capsys):
    # a long run goes on across sessions with a larger max_seconds; the examples it has seen stay the same
    run_to_end(tiny_config, dataset, tmp_path / "run", 2)
    code = main(["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "run"),
                 "--set", "training.main.max_seconds=36000", "--set", "training.finetune.max_seconds=600",
                 "--max-iterations", "3", "--resume", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert read_state(tmp_path / "run" / "state.pt")["progress"]["step"] == 3


def test_missing_data_root_is_a_clear_error(tiny_config, tmp_path, capsys):
    assert main(["train", "--config", str(tiny_config), "--run-dir", str(tmp_path / "r"), "--quiet"]) == 2
    assert "data.root is not set" in capsys.readouterr().err


@pytest.mark.gpu
def test_bf16_and_compile_on_a_gpu(tiny_config, dataset, tmp_path):
    out = run_to_end(tiny_config, dataset, tmp_path / "gpu", 4, "--set", "run.device='cuda'", "--set", "run.bf16=true",
                     "--set", "run.compile=true")  # fmt: skip
    assert "stopped at iteration 4" in out
    assert torch.isfinite(torch.tensor(read_state(tmp_path / "gpu" / "state.pt")["progress"]["history"][0]["valid_loss"]))


def test_gpu_options_are_refused_on_the_cpu(tiny_config, dataset, tmp_path, capsys):
    args = ["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "r"), "--quiet"]
    assert main([*args, "--set", "run.device='cpu'", "--set", "run.bf16=true"]) == 2
    assert "run.bf16 is for GPUs" in capsys.readouterr().err


def test_init_starts_from_given_weights_with_a_fresh_optimiser(tiny_config, dataset, tmp_path, capsys):
    from lightsep.checkpoint import load_checkpoint
    from lightsep.training import Trainer

    run_to_end(tiny_config, dataset, tmp_path / "first", 5)  # one validated epoch: best.pt
    start = tmp_path / "first" / "best.pt"
    config = load_config(tiny_config, [f"data.root={json.dumps(str(dataset))}", f"model.init={json.dumps(str(start))}",
                                       f"run.dir={json.dumps(str(tmp_path / 'second'))}"])  # fmt: skip
    trainer = Trainer(config, progress_bar=False)
    expected = load_checkpoint(start).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in trainer.model.state_dict().items())
    assert not trainer.optimizer.state  # fresh Adam moments
    out = run_to_end(tiny_config, dataset, tmp_path / "second", 4, "--init", str(start))
    assert "stopped at iteration 4" in out
    assert read_state(tmp_path / "second" / "state.pt")["config"]["model"]["init"] == str(start)
    # a resumed run takes its weights from state.pt: model.init may name another file, or none
    # that exists any more, and the run still records where it really started
    start.rename(tmp_path / "moved.pt")
    code = main(["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "second"),
                 "--init", str(tmp_path / "elsewhere.pt"), "--max-iterations", "6", "--resume", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    state = read_state(tmp_path / "second" / "state.pt")
    assert state["progress"]["step"] == 6 and state["config"]["model"]["init"] == str(start)


def test_init_refuses_weights_of_another_model(tiny_config, dataset, tmp_path, capsys):
    args = ["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "r"), "--quiet"]
    assert main([*args, "--init", "proposed-2stem"]) == 2
    assert "holds a proposed-2stem that differs from this run's tiny" in capsys.readouterr().err
    assert main([*args, "--init", "tiny"]) == 2
    assert "no weights are bundled for 'tiny'" in capsys.readouterr().err
    assert main([*args, "--init", str(tmp_path / "nothing.pt")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err


def test_the_high_band_term_weighs_only_the_error_above_its_cutoff():
    from lightsep.training import high_passed, separation_loss

    rate, n = 44100, 4410
    t = torch.arange(n) / rate
    low = torch.sin(2 * torch.pi * 1000 * t)  # 1 kHz: below the cutoff
    high = 0.1 * torch.sin(2 * torch.pi * 15000 * t)  # 15 kHz: above it
    targets = torch.zeros(1, 2, 1, n)
    torch.testing.assert_close(high_passed(low, 11025.0, rate), torch.zeros(n), atol=1e-4, rtol=0)
    torch.testing.assert_close(high_passed(high, 11025.0, rate), high, atol=1e-4, rtol=0)
    for error, extra in ((low, 0.0), (high, 10 * high.square().mean().item() * 0.5)):
        estimates = targets.clone()
        estimates[0, 0, 0] = error
        plain = separation_loss(estimates, targets)
        weighted = separation_loss(estimates, targets, high_band=(10.0, 11025.0, rate))
        assert abs((weighted - plain).item() - extra) < 1e-5


def test_the_high_band_weight_is_bounded_and_goes_with_mse(tmp_path, capsys):
    from lightsep.cli import main

    config = tmp_path / "c.toml"
    config.write_text('name = "x"\ndescription = "d"\n[model]\nname = "tiny"\n[training]\nloss = "snr"\nhigh_band_weight = 5.0\n')
    assert main(["train", "--config", str(config), "--print-config"]) == 2
    assert "goes with the mse loss" in capsys.readouterr().err


def test_the_high_snr_loss_scores_the_high_band_alone_and_counts_leakage_into_a_silent_source():
    from lightsep.training import high_band_snr_terms, separation_loss

    rate, n = 44100, 4410
    t = torch.arange(n) / rate
    low = torch.sin(2 * torch.pi * 1000 * t)  # whole cycles in the segment: each stays in its band
    high = 0.1 * torch.sin(2 * torch.pi * 15000 * t)
    targets = torch.zeros(1, 2, 1, n)
    targets[0, 0, 0] = low + high  # the first source has both bands; the second is silent
    band = (1.0, 11025.0, rate)
    perfect = separation_loss(targets.clone(), targets, "high-snr", 30.0, band)
    off_below = targets.clone()
    off_below[0, 0, 0] += 0.5 * low  # an error below the cutoff does not count
    torch.testing.assert_close(separation_loss(off_below, targets, "high-snr", 30.0, band), perfect)
    leaked = targets.clone()
    leaked[0, 0, 0] -= 0.5 * high  # half the first source's high band goes to the silent second one
    leaked[0, 1, 0] += 0.5 * high
    terms = high_band_snr_terms(leaked, targets, 11025.0, rate)
    assert terms.shape == (1, 2)
    # each source's error is the leaked half: both terms are its energy in decibels (the
    # silent source's too: it is counted, with the mixture's high band setting its floor)
    error_db = 10 * torch.log10((0.5 * high).square().sum())
    torch.testing.assert_close(terms[0], error_db.expand(2), atol=0.05, rtol=0)
    assert (terms > high_band_snr_terms(targets.clone(), targets, 11025.0, rate) + 20).all()


FULL_BAND = """
name = "full-band-test"
[model]
name = "spectral-2stem"
args = { sample_rate = 44100, n_fft = 256, hop = 64, context_samples = 2048, output_start = 256, output_samples = 1536, bands = 32, full_resolution_bins = 8, hidden = 16, high_bands = 4, high_hidden = 8, narrow_features = true }
[data]
workers = 0
[training]
iterations_per_epoch = 4
loss = "high-snr"
trainable = ["high_"]
[training.main]
lr = 1e-2
batch_size = 2
"""


def test_only_the_trainable_parameters_change(dataset, tmp_path):
    from lightsep.training import Trainer

    path = tmp_path / "full-band.toml"
    path.write_text(FULL_BAND)
    config = load_config(path, [f"data.root={json.dumps(str(dataset))}", f"run.dir={json.dumps(str(tmp_path / 'run'))}"])
    trainer = Trainer(config, progress_bar=False)
    model = trainer.model
    before = {name: value.clone() for name, value in model.state_dict().items()}
    trained = {name for name, _ in model.named_parameters() if "high_" in name}
    assert {id(p) for group in trainer.optimizer.param_groups for p in group["params"]} == {
        id(p) for name, p in model.named_parameters() if name in trained}  # fmt: skip
    torch.manual_seed(0)
    mixture = torch.randn(2, 2, model.context_samples)
    targets = torch.randn(2, 2, 2, model.output_samples) * 0.5
    losses = [trainer.train_step(mixture, targets) for _ in range(3)]
    assert all(-200 < loss < 100 for loss in losses)  # decibels
    after = model.state_dict()
    changed = {name for name in after if not torch.equal(after[name], before[name])}
    assert changed and changed <= trained
    assert trainer.validate() < 100


def test_trainable_must_name_parameters(dataset, tmp_path, capsys):
    path = tmp_path / "full-band.toml"
    path.write_text(FULL_BAND)
    common = ["train", "--config", str(path), "--data", str(dataset), "--run-dir", str(tmp_path / "run"), "--quiet"]
    assert main([*common, "--set", 'training.trainable=["nothing"]']) == 2
    assert "training.trainable ['nothing'] names none of spectral-2stem's parameters" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="training.trainable"):
        load_config(path, ['training.trainable=[""]'])
    with pytest.raises(ConfigError, match="training.trainable must be a list of strings, got 5"):
        load_config(path, ["training.trainable=5"])


def test_a_high_band_loss_needs_a_model_whose_band_reaches_above_it(tiny_config, dataset, tmp_path, capsys):
    common = ["train", "--config", str(tiny_config), "--data", str(dataset), "--run-dir", str(tmp_path / "run"), "--quiet"]
    rate = build_model("tiny").sample_rate
    assert main([*common, "--set", f"training.high_band_hz={rate / 2:g}", "--set", "training.high_band_weight=1"]) == 2
    assert f"is not below the Nyquist frequency of tiny at {rate} Hz" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
