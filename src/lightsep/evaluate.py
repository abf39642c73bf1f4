"""``lightsep evaluate``: the SiSEC 2018 protocol with museval, and both aggregates.

Per track: the estimates are made at the track's own rate and channel count (a mono model
runs per channel, or on the mono downmix copied to both channels with ``downmix``). Then
museval's BSS Eval v4 is computed with 1 s windows and hops, as ``museval.eval_mus_track``
does:

- the four MUSDB18 targets (vocals, drums, bass, other) jointly, when the estimator has
  them;
- vocals and accompaniment as their own two-source scenario.

The frames go to ``OUT/<subset>/<track>.json`` in museval's own format (``TrackStore``).

Aggregates, per target and metric, with NaN frames (silent reference or estimate) left out
and counted:

- ``sisec18``: the median over each track's frames, then the median over tracks (SiSEC
  2018), with the MAD, mean and standard deviation of the track medians;
- ``pooled``: the median over all frames of all tracks pooled, as the Wave-U-Net paper (and
  the seed paper after it) computed its numbers, with the MAD, mean and standard deviation of
  those frames.

Reference estimators: ``mixture`` (every estimate is the mixture: the floor) and
``oracle-irm`` (an ideal ratio mask from the true stems: the ceiling).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.tracks import Track, list_tracks
from .errors import LightsepError, one_line
from .fileio import atomic_path, check_output_folder
from .workers import map_in_processes

METRICS = ("SDR", "SIR", "ISR", "SAR")
FOUR = ("vocals", "drums", "bass", "other")
TWO = ("vocals", "accompaniment")
REFERENCE_ESTIMATORS = ("mixture", "oracle-irm")
IRM_FFT, IRM_HOP, IRM_POWER = 4096, 1024, 2


def _require_museval():
    try:
        import museval  # noqa: F401
    except ImportError:
        raise LightsepError("evaluation needs museval: pip install 'lightsep[eval]'") from None


# --------------------------------------------------------------------------------------
# References and estimates
# --------------------------------------------------------------------------------------


def track_references(track: Track) -> tuple[dict[str, np.ndarray], int]:
    """The track's targets at its own rate and channels: ``{name: (channels, samples)}``
    for vocals, drums, bass, other (or what the layout has) and accompaniment, plus the
    mixture as the sum of the sources."""
    from .audio import audio_info

    info = audio_info(track.stems[track.sources[0]].path, track.stems[track.sources[0]].stream)
    sources = track.load(info.sample_rate, info.channels, strict=True)
    refs = {name: np.asarray(audio, dtype=np.float32) for name, audio in sources.items()}
    refs["mixture"] = sum(refs.values())
    if "accompaniment" not in refs:
        refs["accompaniment"] = sum(refs[n] for n in refs if n not in ("vocals", "mixture"))
    return refs, info.sample_rate


def oracle_irm(references: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Ideal ratio masks ``|S_j|^2 / sum_k |S_k|^2`` of ``names`` (which must add up to the
    mixture) applied to the mixture's STFT (4096 / 1024, Hann), per channel."""
    window = torch.hann_window(IRM_FFT, dtype=torch.float64)

    def stft(x):
        return torch.stft(torch.tensor(x, dtype=torch.float64), IRM_FFT, IRM_HOP, window=window, return_complex=True)

    length = references["mixture"].shape[-1]
    short = max(0, IRM_FFT - length)  # a track shorter than a window: zeros after it (the STFT's padding needs them)
    references = {n: np.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, short)]) for n, v in references.items()} if short else references
    specs = [stft(references[n]) for n in names]
    power = [s.abs() ** IRM_POWER for s in specs]
    total = sum(power) + 1e-20
    mixture = stft(references["mixture"])
    return {
        n: torch.istft(mixture * (p / total), IRM_FFT, IRM_HOP, window=window, length=length).float().numpy()
        for n, p in zip(names, power)
    }


def estimate(estimator, references: dict[str, np.ndarray], rate: int, downmix: bool = False) -> dict[str, np.ndarray]:
    """Estimates ``{name: (channels, samples)}`` for every target the estimator covers;
    ``accompaniment`` is added as drums + bass + other for a 4-stem estimator."""
    mixture = references["mixture"]
    if estimator == "mixture":
        return {n: mixture.copy() for n in (*FOUR, "accompaniment") if n in references}
    if estimator == "oracle-irm":
        out = {}
        if all(n in references for n in FOUR):
            out.update(oracle_irm(references, FOUR))
        out.update({n: v for n, v in oracle_irm(references, TWO).items() if n == "accompaniment" or "vocals" not in out})
        return out
    if downmix and mixture.shape[0] > 1:
        mono = mixture.mean(axis=0)
        stems = {n: np.repeat(v[None], mixture.shape[0], axis=0) for n, v in estimator.separate(mono, rate).items()}
    else:
        stems = estimator.separate(mixture, rate)
    return with_accompaniment(stems)


def with_accompaniment(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``stems`` with ``accompaniment`` added as drums + bass + other, when it has those
    and no accompaniment of its own (the 2-source scenario of a 4-stem estimate)."""
    if "accompaniment" not in stems and all(n in stems for n in ("drums", "bass", "other")):
        stems = {**stems, "accompaniment": stems["drums"] + stems["bass"] + stems["other"]}
    return stems


# --------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------


def score_track(name: str, references: dict[str, np.ndarray], estimates: dict[str, np.ndarray], rate: int):
    """museval scores of one track, as a ``museval.TrackStore``.

    A stem that is silent throughout the track (all zeros) is not scored: BSS Eval has no
    SDR against silence, and museval refuses it. The four-stem scenario then scores the
    other stems together."""
    _require_museval()
    import museval
    from museval.aggregate import TrackStore

    store = TrackStore(win=1.0, hop=1.0, track_name=name)
    scenarios = []
    if all(n in estimates and n in references for n in FOUR):
        sounding = tuple(n for n in FOUR if np.any(references[n]))
        if len(sounding) >= 2:  # vocals come from the 2-source scenario
            scenarios.append((sounding, tuple(n for n in ("drums", "bass", "other") if n in sounding)))
    if all(n in estimates for n in TWO) and all(np.any(references[n]) for n in TWO):
        scenarios.append((TWO, TWO))
    if not scenarios:
        silent = [n for n in (*TWO, *FOUR) if n in references and n in estimates and not np.any(references[n])]
        if silent:
            raise LightsepError(f"its reference {', '.join(dict.fromkeys(silent))} is silent throughout: BSS Eval has no "
                                "SDR against silence, so nothing can be scored")  # fmt: skip
        raise LightsepError(f"the estimates {sorted(estimates)} cover neither vocals/accompaniment nor the four stems")
    for targets, kept in scenarios:
        refs = np.stack([references[n].T for n in targets])
        ests = np.stack([_fit(estimates[n], references[n]).T for n in targets])
        sdr, isr, sir, sar = museval.evaluate(refs, ests, win=rate, hop=rate, mode="v4")
        for i, target in enumerate(targets):
            if target in kept:
                store.add_target(target, {"SDR": sdr[i].tolist(), "SIR": sir[i].tolist(), "ISR": isr[i].tolist(),
                                          "SAR": sar[i].tolist()})  # fmt: skip
    return store


def _fit(estimate_: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The estimate trimmed or zero-padded to the reference's length."""
    n = reference.shape[-1]
    out = np.zeros_like(reference)
    m = min(n, estimate_.shape[-1])
    out[:, :m] = estimate_[: out.shape[0], :m]
    return out


# --------------------------------------------------------------------------------------
# Whole datasets
# --------------------------------------------------------------------------------------

_WORKER: dict = {}


def _make_estimator(model: str, overlap: float, backend: str = "torch", random_weights: bool = False,
                    resample_quality: str = "HQ"):  # fmt: skip
    if model in REFERENCE_ESTIMATORS:
        return model
    from .separator import Separator

    return Separator(model, overlap=overlap, backend=backend, random_weights=random_weights, resample_quality=resample_quality)


def _init_worker(model: str, overlap: float, threads: int, backend: str, random_weights: bool, resample_quality: str) -> None:
    torch.set_num_threads(threads)
    _WORKER["estimator"] = _make_estimator(model, overlap, backend, random_weights, resample_quality)


def _evaluate_one(track: Track, out_file: Path, downmix: bool) -> str | None:
    """Score one track into ``out_file``; returns ``None``, or why the track failed (a bad
    track fails alone: the others are still scored)."""
    try:
        references, rate = track_references(track)
        estimates = estimate(_WORKER["estimator"], references, rate, downmix)
        store = score_track(track.name, references, estimates, rate)
        with atomic_path(out_file) as tmp:
            tmp.write_text(store.json)
    except (LightsepError, OSError) as exc:
        return f"{track.name}: {one_line(exc, out_file)[0]}"
    return None


def _scored(path: Path) -> bool:
    """Whether a track's scores are there and readable; damaged ones are scored again."""
    if not path.exists():
        return False
    try:
        read_track_scores(path)
    except DamagedScoresError as exc:
        print(f"lightsep: warning: {exc}: scoring the track again", file=sys.stderr, flush=True)
        return False
    return True


def evaluate_dataset(
    model: str,
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    subset: str = "test",
    tracks: list[str] | None = None,
    jobs: int = 1,
    overlap: float | None = None,
    downmix: bool = False,
    progress: bool = False,
    backend: str = "torch",
    random_weights: bool = False,
    resample_quality: str = "HQ",
) -> dict:
    """Evaluate ``model`` (a name, a checkpoint, ``mixture`` or ``oracle-irm``) on a dataset;
    tracks already scored in ``out_dir`` are skipped. Returns the summary (also written
    to ``out_dir/summary.json``). A name without bundled weights is refused unless
    ``random_weights``. ``resample_quality``: soxr's, to and from the model's rate."""
    _require_museval()
    out_dir = check_output_folder(out_dir)
    chosen = [t for t in list_tracks(root, subset) if not tracks or t.name in tracks]
    if tracks:
        missing = sorted(set(tracks) - {t.name for t in chosen})
        if missing:
            raise LightsepError(f"no track named {missing[0]!r} in {root} ({subset})")
    if not chosen:
        raise LightsepError(f"{root}: no {subset} tracks to evaluate")
    unscorable = [t for t in chosen if "vocals" not in t.sources]
    if unscorable:
        raise LightsepError(f"{root}: {unscorable[0].name} ({unscorable[0].layout}) has no vocals stem to score against; "
                            "evaluate needs tracks with their stems (vocals and the rest)")  # fmt: skip
    estimator = _make_estimator(model, overlap, backend, random_weights, resample_quality)  # fails early on a bad model name or checkpoint
    todo = [t for t in chosen if not _scored(out_dir / subset / f"{t.name}.json")]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(chosen), initial=len(chosen) - len(todo), unit="track", desc="evaluating")
    jobs = max(1, min(jobs, len(todo) or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    work = [(t, out_dir / subset / f"{t.name}.json", downmix) for t in todo]
    failures = []
    for failure in map_in_processes(_evaluate_one, work, jobs, _init_worker, (model, overlap, threads, backend, random_weights, resample_quality)):
        if failure is not None:
            failures.append(failure)
            print(f"lightsep: error: {failure}", file=sys.stderr, flush=True)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if failures:
        raise LightsepError(f"{len(failures)} of {len(chosen)} track(s) could not be scored (above); the others are "
                            f"in {out_dir / subset}, and a rerun scores only what is missing")  # fmt: skip
    name = estimator if isinstance(estimator, str) else estimator.name
    return write_summary(out_dir, subset, [t.name for t in chosen], {
        "model": model, "model_name": name, "data": str(root), "subset": subset, "downmix": downmix,
        "overlap": getattr(estimator, "overlap", overlap), "backend": backend, "resample_quality": resample_quality})  # fmt: skip


def evaluate_settings(
    tracks: list[Track], estimates: Callable[[dict[str, np.ndarray], int], dict[str, dict[str, np.ndarray]]],
    out_dir: str | os.PathLike, subset: str, info: dict | None = None, progress: bool = False,
) -> dict[str, Path]:  # fmt: skip
    """Score several estimates of each track, each setting into its own folder as
    ``lightsep evaluate`` would: ``estimates(references, rate)`` returns ``{setting: {stem:
    (channels, samples)}}`` for one track (:func:`track_references`' ``references`` at its
    own ``rate``), and each setting's scores go to ``out_dir/<setting>`` with a summary
    (``info`` plus ``model``: the setting). For benchmarks that compare ways of estimating
    (oracle masks, ensembles) with :func:`lightsep.report.paired_differences`. Returns
    ``{setting: folder}``."""
    scored: dict[str, list[str]] = {}
    for track in tracks:
        references, rate = track_references(track)
        for setting, stems in estimates(references, rate).items():
            write_track_scores(Path(out_dir) / setting, subset, score_track(track.name, references, stems, rate))
            scored.setdefault(setting, []).append(track.name)
        if progress:
            print(f"scored {track.name}", file=sys.stderr, flush=True)
    for setting, names in scored.items():
        write_summary(Path(out_dir) / setting, subset, names, {**(info or {}), "model": setting})
    return {setting: Path(out_dir) / setting for setting in scored}


def write_track_scores(out_dir: str | os.PathLike, subset: str, store) -> Path:
    """Write one track's scores (a ``museval.TrackStore``, as :func:`score_track` returns)
    where ``lightsep evaluate`` puts them: ``out_dir/subset/<track name>.json``."""
    out_file = Path(out_dir) / subset / f"{store.track_name}.json"
    with atomic_path(out_file) as tmp:
        tmp.write_text(store.json)
    return out_file


def write_summary(out_dir: str | os.PathLike, subset: str, track_names: list[str], info: dict) -> dict:
    """Aggregate the named tracks' scores in ``out_dir/subset`` into ``out_dir/summary.json``,
    the folder layout ``lightsep evaluate`` writes and :func:`lightsep.report.load_result`
    reads; ``info`` (which must name the ``model``) is stored beside the aggregates. Returns
    the summary. Evaluations made outside :func:`evaluate_dataset` (benchmarks that score
    their own estimates with :func:`score_track`) become comparable this way."""
    summary = summarise([Path(out_dir) / subset / f"{name}.json" for name in track_names])
    summary.update({"subset": subset, **info})
    with atomic_path(Path(out_dir) / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# --------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------


def target_frames(scores: dict) -> dict[str, dict[str, list[float]]]:
    """``{target: {metric: frames}}`` of one track's scores in museval's JSON layout (a
    ``TrackStore.scores`` or a parsed per-track file); a missing value is NaN."""
    return {
        target["name"]: {m: [float("nan") if f["metrics"][m] is None else float(f["metrics"][m]) for f in target["frames"]]
                         for m in METRICS}  # fmt: skip
        for target in scores["targets"]
    }


def track_medians(scores: dict, metric: str = "SDR") -> dict[str, float]:
    """``{target: median of the metric over the track's finite frames}`` (NaN if none)."""
    out = {}
    for target, metrics in target_frames(scores).items():
        values = np.asarray(metrics[metric])
        values = values[np.isfinite(values)]
        out[target] = float(np.median(values)) if values.size else float("nan")
    return out


class DamagedScoresError(LightsepError):
    """A per-track scores file that is not museval's JSON."""


def read_track_scores(path: str | os.PathLike) -> dict:
    """One track's scores (museval's JSON layout), checked: :class:`DamagedScoresError`
    with one line for a file that is not it."""
    path = Path(path)
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
        target_frames(scores)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DamagedScoresError(f"{path}: damaged track scores ({reason})") from None
    return scores


def read_frames(files: list[Path]) -> dict[str, dict[str, list[list[float]]]]:
    """``{target: {metric: [frames of track 1, frames of track 2, ...]}}`` (NaN kept)."""
    return collect_frames(read_track_scores(path) for path in files)


def collect_frames(track_scores: Iterable[dict]) -> dict[str, dict[str, list[list[float]]]]:
    """:func:`read_frames` of tracks' scores already read (:func:`read_track_scores`)."""
    frames: dict[str, dict[str, list[list[float]]]] = {}
    for scores in track_scores:
        for target, metrics in target_frames(scores).items():
            per_metric = frames.setdefault(target, {m: [] for m in METRICS})
            for metric in METRICS:
                per_metric[metric].append(metrics[metric])
    return frames


@dataclass
class Aggregate:
    median: float
    mad: float
    mean: float
    std: float

    @classmethod
    def of(cls, values: np.ndarray) -> Aggregate:
        if values.size == 0:
            return cls(float("nan"), float("nan"), float("nan"), float("nan"))
        median = float(np.median(values))
        return cls(median, float(np.median(np.abs(values - median))), float(np.mean(values)), float(np.std(values)))


def summarise(files: list[Path]) -> dict:
    """Both aggregates for every target and metric of the given per-track JSON files."""
    out: dict = {"tracks": len(files), "targets": {}}
    for target, metrics in read_frames(files).items():
        entry = {}
        for metric, tracks in metrics.items():
            arrays = [np.asarray(t, dtype=np.float64) for t in tracks]
            valid = [a[np.isfinite(a)] for a in arrays]
            track_medians = np.asarray([np.median(v) for v in valid if v.size])
            pooled = np.concatenate(valid) if valid else np.zeros(0)
            entry[metric] = {
                "sisec18": vars(Aggregate.of(track_medians)),
                "pooled": vars(Aggregate.of(pooled)),
                "frames": int(sum(a.size for a in arrays)),
                "nan_frames": int(sum(a.size - v.size for a, v in zip(arrays, valid))),
            }
        out["targets"][target] = entry
    return out
