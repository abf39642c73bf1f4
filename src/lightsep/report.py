"""``lightsep report``: evaluation results laid out as the paper's tables.

Each result folder is one ``lightsep evaluate`` output (its ``summary.json``). The folders'
models fill the columns of Table 1 (the ablations), Table 3 (2-stem, Wave-U-Net alongside)
and Table 4 (four stems). Each cell is the measured median SDR over all frames pooled (the
aggregate the paper used) next to the paper's own number. A full table gives both aggregates
for every folder, and a box plot per target shows the frame SDR distributions.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import PAPER_SPLIT_SEED, list_tracks, split_tracks
from .errors import LightsepError
from .evaluate import collect_frames, evaluate_settings, read_track_scores, track_medians
from .fileio import OutputSet, refuse_existing

PAPER = {  # SDR in dB, median over all frames pooled, MUSDB18 test set (from the paper)
    "table1": {"ablation-a": {"vocals": 4.55, "accompaniment": 10.74}, "ablation-b": {"vocals": 4.64, "accompaniment": 10.77},
               "ablation-c": {"vocals": 4.92, "accompaniment": 10.97}},
    "table3": {"waveunet-m3": {"vocals": 3.96, "accompaniment": 7.53}, "waveunet-m4": {"vocals": 4.46, "accompaniment": 10.69},
               "waveunet-m5": {"vocals": 4.58, "accompaniment": 10.66}, "proposed-2stem": {"vocals": 4.92, "accompaniment": 10.97}},
    "table4": {"waveunet-m6": {"vocals": 3.0, "other": 2.03, "bass": 2.91, "drums": 4.15},
               "proposed-4stem": {"vocals": 3.68, "other": 2.50, "bass": 3.09, "drums": 4.45}},
}  # fmt: skip
COLUMNS = {
    "table1": [("ablation-a", "(a) RFPD"), ("ablation-b", "(b) RFPD + att."), ("ablation-c", "(c) upsampling + att.")],
    "table3": [("waveunet-m3", "Wave-U-Net M3 (mono)"), ("waveunet-m4", "M4 (stereo)"), ("waveunet-m5", "M5 (stereo)"),
               ("proposed-2stem", "Proposed (mono)")],
    "table4": [("waveunet-m6", "Wave-U-Net M6"), ("proposed-4stem", "Proposed")],
}  # fmt: skip
ROWS = {"table1": ("vocals", "accompaniment"), "table3": ("vocals", "accompaniment"), "table4": ("vocals", "other", "bass", "drums")}
TITLES = {
    "table1": "Table 1: the ablations, SDR (dB)",
    "table3": "Table 3: singing voice and accompaniment, SDR (dB)",
    "table4": "Table 4: four stems, SDR (dB)",
}
LABELS = {"vocals": "Voc.", "accompaniment": "Acc.", "other": "Other", "bass": "Bass", "drums": "Drums"}


def load_result(folder: str | os.PathLike) -> dict:
    path = Path(folder) / "summary.json"
    if not path.is_file():
        raise LightsepError(f"{folder}: no summary.json (is this a 'lightsep evaluate' output folder?)")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LightsepError(f"{path}: damaged (not JSON: {str(exc).splitlines()[0]}); rerun lightsep evaluate into a new folder") from None
    if not (isinstance(summary, dict) and isinstance(summary.get("model"), str) and isinstance(summary.get("targets"), dict)
            and all(isinstance(t, dict) for t in summary["targets"].values())):  # fmt: skip
        raise LightsepError(f"{path}: not a lightsep evaluate summary (no model or targets); rerun lightsep evaluate")
    if not isinstance(summary.get("subset", "test"), str) or summary.get("subset", "test") not in ("train", "test"):
        raise LightsepError(f"{path}: not a lightsep evaluate summary (subset {summary.get('subset')!r})")
    problem = summary_problem(summary)
    if problem:
        raise LightsepError(f"{path}: not a lightsep evaluate summary ({problem}); rerun lightsep evaluate")
    summary["folder"] = str(folder)
    summary["files"] = sorted((Path(folder) / summary.get("subset", "test")).glob("*.json"))
    summary["scores"] = [read_track_scores(track_file) for track_file in summary["files"]]  # checked, read once
    return summary


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summary_problem(summary: dict) -> str | None:
    """What is missing or of the wrong kind among the values a report reads from an
    evaluation's summary, or None: every field is checked here, once, so that no damaged
    file reaches the tables as a KeyError or a TypeError."""
    if not (isinstance(summary.get("tracks"), int) and not isinstance(summary.get("tracks"), bool) and summary["tracks"] >= 0):
        return "no track count"
    if not all(isinstance(summary.get(key, ""), str) for key in ("model_name", "data")):
        return "model_name and data must be text"
    for target, metrics in summary["targets"].items():
        sdr = metrics.get("SDR")
        if not isinstance(sdr, dict):
            return f"{target}: no SDR"
        for aggregate, fields in (("sisec18", ("median",)), ("pooled", ("median", "mad"))):
            entry = sdr.get(aggregate)
            if not isinstance(entry, dict) or not all(_number(entry.get(field)) for field in fields):
                return f"{target}: SDR {aggregate} " + "/".join(fields) + " must be numbers"
        if not (isinstance(sdr.get("nan_frames"), int) and not isinstance(sdr.get("nan_frames"), bool)):
            return f"{target}: SDR nan_frames must be a count"
    return None


@dataclass
class PairedDifference:
    """One target's per-track SDR (each track's median over its frames, the SiSEC 2018
    track score) of one evaluation minus another's, over the tracks both scored: how many
    tracks rose and fell, and the mean and median of the differences in dB."""

    tracks: int
    higher: int
    lower: int
    mean: float
    median: float


def paired_differences(result: dict, reference: dict, metric: str = "SDR") -> dict[str, PairedDifference]:
    """``{target: PairedDifference}`` of ``result`` against ``reference`` (two
    :func:`load_result` dicts), for the targets both have, over the tracks both scored
    (matched by file name) where both scores are finite. Comparing two models on the same
    few tracks this way is steadier than comparing their SiSEC 2018 medians: those are each
    one track's score, and which track sits in the middle changes from model to model."""
    def per_track(evaluation: dict) -> dict[str, dict[str, float]]:  # {track file name: {target: score}}
        return {path.name: track_medians(scores, metric) for path, scores in zip(evaluation["files"], evaluation["scores"])}

    ours, theirs = per_track(result), per_track(reference)
    common = sorted(set(ours) & set(theirs))
    if not common:
        raise LightsepError(f"{result['folder']} and {reference['folder']} scored no track in common")
    out = {}
    for target in result["targets"]:
        if target not in reference["targets"]:
            continue
        pairs = np.array([(ours[n].get(target, math.nan), theirs[n].get(target, math.nan)) for n in common])
        differences = pairs[:, 0] - pairs[:, 1]
        differences = differences[np.isfinite(differences)]
        if differences.size:
            out[target] = PairedDifference(int(differences.size), int((differences > 0).sum()), int((differences < 0).sum()),
                                           float(differences.mean()), float(np.median(differences)))  # fmt: skip
    return out


def comparison_table(results: dict[str, dict], against: str, targets: tuple[str, ...] = ("vocals", "accompaniment")) -> list[str]:
    """Markdown rows, one per ``{label: load_result dict}``: each target's SiSEC 2018 /
    pooled median SDR, then every target's clip-by-clip :func:`paired_differences` from the
    result labelled ``against`` (clips higher / lower; mean difference in dB)."""
    lines = ["| setting | clips | " + " | ".join(targets) + f" | against {against}, clip by clip: higher / lower; mean dB |",
             "|---|---:|" + "---:|" * len(targets) + "---|"]  # fmt: skip
    for label, result in results.items():
        cells = []
        for target in targets:
            sdr = result["targets"].get(target, {}).get("SDR")
            cells.append(f"{sdr['sisec18']['median']:.2f} / {sdr['pooled']['median']:.2f}" if sdr else "–")
        paired = paired_differences(result, results[against]) if label != against else {}
        versus = ", ".join(f"{t} {d.higher} / {d.lower}; {d.mean:+.2f}" for t, d in paired.items() if t in targets)
        lines.append(f"| {label} | {result['tracks']} | " + " | ".join(cells) + f" | {versus or '–'} |")
    return lines


def compare_on_validation(data, estimates, out_dir, benchmark: str, against: str) -> list[str]:
    """Score each setting of ``estimates`` (as :func:`lightsep.evaluate.evaluate_settings`
    takes it) on the validation clips of ``data``'s ``train/`` (the paper split, which no
    configuration trains on), each into ``out_dir/<setting>``, and return
    :func:`comparison_table`'s rows against the setting ``against``. For benchmarks."""
    tracks = split_tracks(list_tracks(data, "train"), "paper", PAPER_SPLIT_SEED)["valid"]
    if not tracks:
        raise LightsepError(f"{data}: no validation clips (it needs at least two train/ tracks)")
    folders = evaluate_settings(tracks, estimates, out_dir, "train", {"data": str(data), "benchmark": benchmark}, progress=True)
    return comparison_table({name: load_result(folder) for name, folder in folders.items()}, against)


def _cell(value: float | None, paper: float | None) -> str:
    measured = "–" if value is None or math.isnan(value) else f"{value:.2f}"
    return f"{measured} ({paper:.2f})" if paper is not None else measured


def _pooled(result: dict, target: str, metric: str = "SDR") -> float | None:
    entry = result["targets"].get(target, {}).get(metric)
    return entry["pooled"]["median"] if entry else None


def paper_table(key: str, results: list[dict]) -> list[str]:
    by_model = {r.get("model_name", r["model"]): r for r in results}
    header = "| | " + " | ".join(label for _, label in COLUMNS[key]) + " |"
    lines = [f"### {TITLES[key]}", "", "Measured (paper).", "", header, "|---" + "|---:" * len(COLUMNS[key]) + "|"]
    for target in ROWS[key]:
        cells = []
        for model, _ in COLUMNS[key]:
            value = _pooled(by_model[model], target) if model in by_model else None
            cells.append(_cell(value, PAPER[key][model].get(target)))
        lines.append(f"| {LABELS[target]} | " + " | ".join(cells) + " |")
    return lines + [""]


def summary_table(results: list[dict]) -> list[str]:
    """One row per evaluated model, one column per target: the pooled median SDR."""
    order = [t for t in ("vocals", "accompaniment", "drums", "bass", "other") if any(t in r["targets"] for r in results)]
    lines = ["### Summary: median SDR (dB) over all frames", "",
             "| model | tracks | " + " | ".join(order) + " |", "|---|---:" + "|---:" * len(order) + "|"]  # fmt: skip
    for r in results:
        cells = [_cell(_pooled(r, t), None) for t in order]
        lines.append(f"| {r.get('model_name', r['model'])} | {r['tracks']} | " + " | ".join(cells) + " |")
    return lines + [""]


def full_table(results: list[dict]) -> list[str]:
    lines = ["### Every result: median SDR (dB)", "",
             "SiSEC 2018 (median of track medians) / pooled (median of all frames); NaN frames left out.", "",
             "| model | tracks | target | SiSEC18 SDR | pooled SDR | MAD (pooled) | NaN frames |",
             "|---|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in results:
        for target, metrics in r["targets"].items():
            sdr = metrics["SDR"]
            lines.append(f"| {r.get('model_name', r['model'])} | {r['tracks']} | {target} | {sdr['sisec18']['median']:.2f} | "
                         f"{sdr['pooled']['median']:.2f} | {sdr['pooled']['mad']:.2f} | {sdr['nan_frames']} |")  # fmt: skip
    return lines + [""]


def report_inputs(results: list[dict]) -> list[Path]:
    """The files a report reads: each folder's summary.json and per-track results."""
    return [Path(r["folder"]) / "summary.json" for r in results] + [f for r in results for f in r["files"]]


def box_plots(results: list[dict], out: Path, outputs: OutputSet, force: bool = False) -> list[Path]:
    """One box plot of the frames' SDR per target, beside ``out``, added to ``outputs``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    frames = [(r.get("model_name", r["model"]), collect_frames(r["scores"])) for r in results]
    targets = sorted({t for _, f in frames for t in f})
    paths = []
    for target in targets:
        data, names = [], []
        for name, f in frames:
            if target in f:
                values = [v for track in f[target]["SDR"] for v in track if not math.isnan(v)]
                data.append(values)
                names.append(name)
        fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(data), 4))
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
        ax.set_ylabel("SDR per 1 s frame (dB)")
        ax.set_title(target)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out.with_name(f"{out.stem}-{target}.png")
        refuse_existing([path], force, inputs=report_inputs(results))
        fig.savefig(outputs.path(path, suffix=".png"), dpi=90, format="png")
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(folders: list[str], out: str | os.PathLike, force: bool = False) -> tuple[Path, list[Path]]:
    """Write the Markdown report ``out`` and its box plots beside it (all or none; existing
    files are replaced only with ``force``)."""
    results = [load_result(f) for f in folders]
    out = Path(out)
    refuse_existing([out], force, inputs=report_inputs(results))
    data = sorted({r.get("data", "?") for r in results})
    lines = ["# lightsep evaluation report", "",
             f"Data: {', '.join(data)}. BSS Eval v4 (museval), 1 s windows and hops. In the paper's tables, each cell is the",
             "median SDR over all frames of all tracks (as the paper computed it) and, in parentheses, the paper's number on",
             "MUSDB18's test set: the two were measured on different data unless the data above is MUSDB18.", ""]  # fmt: skip
    lines += summary_table(results)
    names = {r.get("model_name", r["model"]) for r in results}
    for key in ("table1", "table3", "table4"):
        if names & {m for m, _ in COLUMNS[key]}:
            lines += paper_table(key, results)
    lines += full_table(results)
    with OutputSet() as outputs:
        plots = box_plots(results, out, outputs, force)
        lines += [f"![{p.stem}]({p.name})" for p in plots]
        outputs.path(out, suffix=".md").write_text("\n".join(lines) + "\n")
    return out, plots
