import json

import museval
import numpy as np
import pytest
import torch

from helpers import load_script, make_musdb_hq
from lightsep import build_model, save_checkpoint
from lightsep.cli import main
from lightsep.data import list_tracks
from lightsep.errors import LightsepError
from lightsep.evaluate import estimate, evaluate_settings, summarise, track_references
from lightsep.report import compare_on_validation, comparison_table, load_result, paired_differences
from lightsep.separator import Separator
from lightsep.synth import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "corpus"
    make_corpus(root, songs=3, seconds=3, seed=11, test_fraction=0.5, jobs=2)
    return root


@pytest.fixture(scope="module")
def results(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    # an (untrained) proposed-2stem checkpoint, so that the report fills Table 3's last column
    checkpoint = save_checkpoint(build_model("proposed-2stem"), out / "proposed.pt")
    for model, name in (("mixture", "mixture"), ("oracle-irm", "oracle"), (str(checkpoint), "tiny")):
        assert main(["evaluate", "-m", model, "--data", str(corpus), "--out", str(out / name), "--quiet", "-j", "2"]) == 0
    return out, checkpoint


def test_frames_equal_museval_on_the_same_arrays(corpus, results):
    out, checkpoint = results
    tracks = list_tracks(corpus, "test")
    assert len(tracks) == 2
    separator = Separator(str(checkpoint))
    for track in tracks:
        refs, rate = track_references(track)
        estimates = estimate(separator, refs, rate)
        stored = json.loads((out / "tiny" / "test" / f"{track.name}.json").read_text())
        frames = {t["name"]: [f["metrics"]["SDR"] for f in t["frames"]] for t in stored["targets"]}
        sdr, _, _, _ = museval.evaluate(np.stack([refs[n].T for n in ("vocals", "accompaniment")]),
                                        np.stack([estimates[n].T for n in ("vocals", "accompaniment")]),
                                        win=rate, hop=rate)  # fmt: skip
        for i, name in enumerate(("vocals", "accompaniment")):
            expected = [None if np.isnan(v) else round(float(v), 5) for v in sdr[i]]
            assert [None if v is None or np.isnan(v) else round(v, 5) for v in frames[name]] == expected


def test_both_aggregates_are_the_medians_of_the_frames(results):
    out, _ = results
    summary = json.loads((out / "tiny" / "summary.json").read_text())
    files = sorted((out / "tiny" / "test").glob("*.json"))
    per_track = []
    for path in files:
        data = json.loads(path.read_text())
        vocals = next(t for t in data["targets"] if t["name"] == "vocals")
        values = np.array([np.nan if f["metrics"]["SDR"] is None else f["metrics"]["SDR"] for f in vocals["frames"]], float)
        per_track.append(values[np.isfinite(values)])
    sisec = np.median([np.median(v) for v in per_track])
    pooled = np.median(np.concatenate(per_track))
    entry = summary["targets"]["vocals"]["SDR"]
    assert entry["sisec18"]["median"] == pytest.approx(sisec)
    assert entry["pooled"]["median"] == pytest.approx(pooled)
    assert entry["frames"] - entry["nan_frames"] == sum(v.size for v in per_track)
    assert summarise(files)["targets"]["vocals"]["SDR"] == entry


def test_the_oracle_beats_the_mixture_on_every_target(results):
    out, _ = results
    floor = json.loads((out / "mixture" / "summary.json").read_text())["targets"]
    ceiling = json.loads((out / "oracle" / "summary.json").read_text())["targets"]
    assert set(floor) == set(ceiling) == {"vocals", "accompaniment", "drums", "bass", "other"}
    for target in floor:
        assert ceiling[target]["SDR"]["pooled"]["median"] > floor[target]["SDR"]["pooled"]["median"], target


def test_paired_differences_compare_the_same_tracks_scores(results, capsys):
    out, _ = results
    oracle, floor = load_result(out / "oracle"), load_result(out / "mixture")
    paired = paired_differences(oracle, floor)
    assert set(paired) == {"vocals", "accompaniment", "drums", "bass", "other"}

    def track_score(folder, name, target):  # a track's median over its finite frames
        data = json.loads((out / folder / "test" / f"{name}.json").read_text())
        frames = next(t for t in data["targets"] if t["name"] == target)["frames"]
        values = np.array([np.nan if f["metrics"]["SDR"] is None else f["metrics"]["SDR"] for f in frames], float)
        return np.median(values[np.isfinite(values)])

    names = sorted(p.stem for p in (out / "oracle" / "test").glob("*.json"))
    for target, difference in paired.items():
        expected = [track_score("oracle", n, target) - track_score("mixture", n, target) for n in names]
        assert (difference.tracks, difference.higher, difference.lower) == (2, 2, 0), target
        assert difference.mean == pytest.approx(np.mean(expected)) and difference.median == pytest.approx(np.median(expected))
    reverse = paired_differences(floor, oracle)["vocals"]
    assert (reverse.higher, reverse.lower, reverse.mean) == (0, 2, pytest.approx(-paired["vocals"].mean))
    # the results-table script's comparison prints the same numbers
    table = load_script("scripts/results_table.py")
    assert table.main(["--against", "floor", f"floor={out / 'mixture'}", f"ceiling={out / 'oracle'}"]) == 0
    printed = capsys.readouterr().out
    assert f"| ceiling | 2 / 0; {paired['vocals'].mean:+.2f}, {paired['vocals'].median:+.2f} |" in printed


def test_an_interrupted_evaluation_skips_finished_tracks(corpus, results, monkeypatch):
    out, _ = results
    before = {p: p.stat().st_mtime_ns for p in (out / "mixture" / "test").glob("*.json")}
    assert main(["evaluate", "-m", "mixture", "--data", str(corpus), "--out", str(out / "mixture"), "--quiet"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "mixture" / "test").glob("*.json")} == before


def test_report_lays_out_the_papers_tables(results, tmp_path, capsys):
    out, _ = results
    report = tmp_path / "report.md"
    assert main(["report", str(out / "mixture"), str(out / "oracle"), str(out / "tiny"), "-o", str(report)]) == 0
    text = report.read_text()
    assert "### Table 3: singing voice and accompaniment, SDR (dB)" in text
    assert "| | Wave-U-Net M3 (mono) | M4 (stereo) | M5 (stereo) | Proposed (mono) |" in text
    table3 = text[text.index("### Table 3") : text.index("### Every result")]
    voc = next(line for line in table3.splitlines() if line.startswith("| Voc."))
    cells = [c.strip() for c in voc.strip("|").split("|")]
    assert cells[1:4] == ["– (3.96)", "– (4.46)", "– (4.58)"]  # no Wave-U-Net result given
    measured = json.loads((out / "tiny" / "summary.json").read_text())["targets"]["vocals"]["SDR"]["pooled"]["median"]
    assert cells[4] == f"{measured:.2f} (4.92)"
    assert "### Table 4" not in text and "### Table 1" not in text
    assert "| mixture | 2 | vocals |" in text and "| oracle-irm | 2 | drums |" in text and "| proposed-2stem | 2 |" in text
    summary = text[text.index("### Summary") : text.index("### Table 3")].splitlines()
    assert summary[2] == "| model | tracks | vocals | accompaniment | drums | bass | other |"
    tiny_row = next(line for line in summary if line.startswith("| proposed-2stem |"))
    assert tiny_row.endswith(f"| {measured:.2f} | " + tiny_row.split("|")[4].strip() + " | – | – | – |")
    pngs = sorted(p.name for p in tmp_path.glob("report-*.png"))
    assert pngs == ["report-accompaniment.png", "report-bass.png", "report-drums.png", "report-other.png", "report-vocals.png"]


def test_bad_evaluate_input(corpus, tmp_path, capsys):
    assert main(["evaluate", "-m", "mixture", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["evaluate", "-m", "mixture", "--data", str(corpus), "--tracks", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "no track named 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2


def test_downmix_separates_the_mono_mixture_once():
    rng = np.random.default_rng(0)
    refs = {n: (0.1 * rng.standard_normal((2, 8000))).astype(np.float32) for n in ("vocals", "drums", "bass", "other")}
    refs["accompaniment"] = refs["drums"] + refs["bass"] + refs["other"]
    refs["mixture"] = refs["vocals"] + refs["accompaniment"]
    separator = Separator(build_model("tiny"))
    down = estimate(separator, refs, 22050, downmix=True)
    assert np.array_equal(down["vocals"][0], down["vocals"][1])  # one mono estimate, copied
    mono = separator.separate(refs["mixture"].mean(axis=0), 22050)["vocals"]
    assert np.allclose(down["vocals"][0], mono)
    per_channel = estimate(separator, refs, 22050)
    assert not np.allclose(per_channel["vocals"][0], per_channel["vocals"][1])


def test_the_onnx_backend_scores_like_torch(corpus, tmp_path):
    pytest.importorskip("onnxruntime")
    checkpoint = save_checkpoint(build_model("tiny"), tmp_path / "tiny.pt")
    sdr = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        assert main(["evaluate", "-m", str(checkpoint), "--data", str(corpus), "--out", str(out), "--quiet",
                     "--backend", backend]) == 0  # fmt: skip
        summary = json.loads((out / "summary.json").read_text())
        assert summary["backend"] == backend
        sdr[backend] = summary["targets"]["vocals"]["SDR"]["pooled"]["median"]
    assert sdr["onnx"] == pytest.approx(sdr["torch"], abs=0.01)


def test_learning_curve_counts_the_music_and_fits_db_per_doubling(results, tmp_path, capsys):
    out, _ = results
    root = make_musdb_hq(tmp_path / "hq", {"train": [f"s{i}" for i in range(8)]}, seconds=1.5)
    configs = {}
    for count in (2, 0):  # 0: all 6 training tracks of the paper's 75/25 split
        configs[count] = tmp_path / f"run{count}.toml"
        configs[count].write_text(f'[model]\nname = "tiny"\n[[data.datasets]]\nname = "hq"\nroot = "{root}"\n'
                                  f"max_train_tracks = {count}\n")  # fmt: skip
    curve = load_script("scripts/reproduce/learning_curve.py")
    # the less music, the lower: the mixture's scores for the run on 2 tracks, the oracle's for 6
    args = [f"{configs[0]}={out / 'oracle'}", f"{configs[2]}={out / 'mixture'}", "--reach", "vocals=50"]
    assert curve.main(args) == 0
    printed = capsys.readouterr().out
    low, high = (json.loads((out / name / "summary.json").read_text())["targets"]["vocals"]["SDR"]["sisec18"]["median"]
                 for name in ("mixture", "oracle"))  # fmt: skip
    assert printed.index("| run2 | 2 hq | 0.1 |") < printed.index("| run0 | 6 hq | 0.1 |")  # 3 s and 9 s
    slope = (high - low) / np.log2(3)
    needed = 9 / 60 * 2 ** ((50 - high) / slope)
    assert f"- vocals, SiSEC18 median: {slope:+.2f} dB per doubling of the music; 50.00 dB at {needed:.0f} minutes" in printed
    # the same through the mean per-clip difference from the run with the most music
    mean = paired_differences(load_result(out / "mixture"), load_result(out / "oracle"))["vocals"].mean
    row = next(line for line in printed.splitlines() if line.startswith("| run2 |"))
    vocals_cell = row.split(" | ")[3 + list(json.loads((out / "mixture" / "summary.json").read_text())["targets"]).index("vocals")]
    assert vocals_cell == f"{low:.2f} / {vocals_cell.split(' / ')[1].split(';')[0]}; {mean:+.2f}"
    assert f"- vocals, mean per-clip difference: {-mean / np.log2(3):+.2f} dB per doubling" in printed
    assert curve.main([f"{configs[0]}={tmp_path}"]) == 2
    assert curve.main(args[:2] + ["--reach", "voice=3"]) == 2
    assert "learning_curve: error:" in capsys.readouterr().err


def floor_and_ceiling(references, rate):
    """Two settings for evaluate_settings: the mixture and the oracle's vocals and accompaniment."""
    return {setting: {n: v for n, v in estimate(estimator, references, rate).items() if n in ("vocals", "accompaniment")}
            for setting, estimator in (("floor", "mixture"), ("ceiling", "oracle-irm"))}  # fmt: skip


def test_evaluate_settings_writes_what_lightsep_evaluate_writes(corpus, results, tmp_path):
    # the mixture and the oracle as two settings of one benchmark, vocals and accompaniment
    # only (the four-stem scenario is museval's slowest): the same per-track scores and
    # aggregates of those targets as the fixture's two `lightsep evaluate` runs (which score
    # them in the same two-source scenario), in folders that load_result reads, and a
    # comparison table from them
    out, _ = results
    tracks = list_tracks(corpus, "test")

    folders = evaluate_settings(tracks, floor_and_ceiling, tmp_path / "bench", "test", {"benchmark": "test"})
    assert sorted(folders) == ["ceiling", "floor"]
    for setting, evaluated in (("floor", "mixture"), ("ceiling", "oracle")):
        ours, theirs = load_result(folders[setting]), load_result(out / evaluated)
        assert ours["model"] == setting and ours["benchmark"] == "test" and ours["subset"] == "test"
        assert [p.name for p in ours["files"]] == [p.name for p in theirs["files"]]
        assert ours["targets"] == {n: theirs["targets"][n] for n in ("vocals", "accompaniment")}
    rows = comparison_table({name: load_result(folder) for name, folder in folders.items()}, "floor")
    assert len(rows) == 4 and rows[2].startswith("| floor | 2 |") and rows[2].endswith("| – |")
    ceiling = paired_differences(load_result(folders["ceiling"]), load_result(folders["floor"]))["vocals"]
    assert f"vocals {ceiling.higher} / {ceiling.lower}; {ceiling.mean:+.2f}" in rows[3] and ceiling.higher == 2


def test_band_least_squares_finds_a_mask_the_bands_can_express():
    # experiments/mask_ceiling.py: a mask that is an interpolation of band values comes back
    # as it was; any other comes back at least as near (in the weighted error) as the
    # interpolation of its band-pooled values
    torch = pytest.importorskip("torch")
    from lightsep.models.spectral import interpolation_matrix

    benchmark = load_script("experiments/mask_ceiling.py")
    expand = torch.from_numpy(interpolation_matrix(65, 24, 8)).double()  # (bands, bins)
    generator = torch.Generator().manual_seed(0)
    weight = torch.rand(2, 65, 5, generator=generator, dtype=torch.float64) + 0.1
    values = torch.rand(2, 5, 24, generator=generator, dtype=torch.float64)
    expressible = torch.einsum("cnk,kf->cfn", values, expand)
    assert torch.allclose(benchmark.band_least_squares(expressible, weight, expand), expressible, atol=1e-6)
    ideal = torch.rand(2, 65, 5, generator=generator, dtype=torch.float64)
    fitted = benchmark.band_least_squares(ideal, weight, expand)
    pool = expand / expand.sum(dim=1, keepdim=True)
    pooled = torch.einsum("kf,cfn->cnk", pool, ideal)
    pooled = torch.einsum("cnk,kf->cfn", pooled, expand)
    error = lambda mask: float((weight * (mask - ideal) ** 2).sum())  # noqa: E731
    assert error(fitted) < error(pooled)
    assert fitted.min() >= 0 and fitted.max() <= 1


def test_benchmarks_compare_settings_on_the_validation_clips(tmp_path):
    # experiments/mask_ceiling.py and ensemble.py: every setting scored on the paper split's
    # validation clips of train/ (one of four here), then compared with one of them
    from helpers import make_ccmixter

    from lightsep.data import PAPER_SPLIT_SEED, split_tracks

    data = make_ccmixter(tmp_path / "cc", ["a", "b", "c", "d"], seconds=2.0)

    rows = compare_on_validation(data, floor_and_ceiling, tmp_path / "bench", "test", "floor")
    valid = split_tracks(list_tracks(data, "train"), "paper", PAPER_SPLIT_SEED)["valid"]
    assert [p.stem for p in (tmp_path / "bench" / "ceiling" / "train").glob("*.json")] == [t.name for t in valid] != []
    assert len(rows) == 4 and "against floor" in rows[0]
    assert rows[3].startswith("| ceiling | 1 |") and "vocals 1 / 0; +" in rows[3]
    with pytest.raises(LightsepError, match="no validation clips"):
        compare_on_validation(make_ccmixter(tmp_path / "one", ["a"]), floor_and_ceiling, tmp_path / "b2", "test", "floor")


def test_the_high_band_study_scores_a_band_mask_by_its_band_statistics():
    # experiments/high_band.py trains heads on three numbers per band and frame; a mask that is
    # constant over a band must err by exactly what masking every bin of it errs by
    study = load_script("experiments/high_band.py")
    generator = torch.Generator().manual_seed(0)
    shape = (2, study.BINS, 5)
    def spectrum() -> torch.Tensor:  # complex128: real and imaginary parts both random
        return torch.randn(shape, generator=generator, dtype=torch.complex128)

    mixture = spectrum()
    vocals = 0.3 * mixture + spectrum()
    assert mixture.imag.abs().min() > 0
    nearest = torch.randint(0, study.HIGH_BANDS, (study.BINS - study.LOW_BINS,), generator=generator)
    onehot = torch.nn.functional.one_hot(nearest, study.HIGH_BANDS).float()
    xx, xv, vv = study.band_statistics(mixture, vocals, onehot)  # (frames, channels, bands)
    mask = torch.rand(5, 2, study.HIGH_BANDS, generator=generator)
    per_bin = torch.einsum("ncb,fb->cfn", mask.double(), onehot.double())  # each bin its band's value
    error = (per_bin * mixture[:, study.LOW_BINS :] - vocals[:, study.LOW_BINS :]).abs() ** 2
    expected = torch.einsum("cfn,fb->ncb", error, onehot.double())
    torch.testing.assert_close(study.band_error(mask, xx, xv, vv).double(), expected, rtol=1e-4, atol=1e-3)
    # and the accompaniment's, from the same three numbers
    accompaniment = mixture - vocals
    error = ((1 - per_bin) * mixture[:, study.LOW_BINS :] - accompaniment[:, study.LOW_BINS :]).abs() ** 2
    expected = torch.einsum("cfn,fb->ncb", error, onehot.double())
    torch.testing.assert_close(study.band_error(1 - mask, xx, xx - xv, xx - 2 * xv + vv).double(), expected, rtol=1e-4, atol=1e-3)


def test_the_compact_high_band_study_keeps_an_artists_clips_in_one_fold():
    # experiments/high_band.py compact (its features are lightsep.models.high_gain's: tests/test_high_gain.py)
    study = load_script("experiments/high_band.py")
    names = [f"{artist} - Song {n}" for artist in "ABCDEFG" for n in range(3)] + ["H - One"]
    folds = study.artist_folds(names)
    for artist in "ABCDEFGH":
        assert len({fold for name, fold in zip(names, folds) if name.startswith(f"{artist} - ")}) == 1
    assert set(folds) == set(range(5))
