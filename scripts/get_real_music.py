"""Fetch and lay out the real music lightsep trains on (docs/data.md, "Real music").

    .venv/bin/python scripts/get_real_music.py [--dest data] [--everythingisremixed CLONE]
                                               [--musdb18-7 FOLDER] [--no-screen]

Every step is skipped when its result is already there, so rerunning finishes what an
interrupted run left (each file is written under a temporary name and renamed into place):

1. Debian packages of game soundtracks (instrumental) and Frets on Fire songs, fetched with
   ``apt-get download`` and unpacked with ``dpkg-deb``; ``.pk3`` archives are zip files
   whose ``.ogg`` files are taken. Each file becomes a track of ``DEST/game-music`` (an
   ``instrumental`` dataset: ``train/<package>--<name>.<ext>``, copied as it is), and each
   Frets on Fire song's ``song.ogg`` (the backing) plus ``guitar.ogg`` (the lead guitar)
   becomes ``DEST/fretsonfire/train/<package>--<song>.flac``. Each package's Debian
   copyright file is kept in ``DEST/<dataset>/licenses/``.
2. Screening for singing: tracks of an instrumental dataset must have no vocals (they are
   paired with other datasets' vocals in training). Spleeter's 2-stem model (the peer,
   ``lightsep get spleeter-2stem``) separates 11.9 s excerpts every 60 s of each track; a track
   where, in more than ``--vocal-fraction`` of its non-silent seconds, the vocal estimate
   is within ``--vocal-db`` dB of the mixture, is moved to ``DEST/<dataset>/excluded/``.
   Every track's score is kept in ``DEST/<dataset>/screening.json``.
3. Everything is Remixed (CC0): ``lightsep import-stems`` from a clone of the GitHub
   repository ``ichbinsoftware/everythingisremixed`` (``--everythingisremixed``: a clone, or
   a git folder without a work tree such as a mirror; cloned with git when not given), gain
   -6 dB, and 2.Lithium (the demo song) moved to ``test/``.
4. musdb18-7: linked from ``--musdb18-7`` when given (the ``musdb`` package's
   ``musdb.DB(download=True)`` fetches the same clips).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

GAME_PACKAGES = {
    # package: licence, as its Debian copyright file states it (docs/data.md has the details)
    "singularity-music": "CC BY-SA 3.0",
    "drascula-music": "Drascula licence (BSD-like: redistribution and modification allowed)",
    "ufoai-music": "per file: GPL-2+, CC BY-SA 3.0, CC BY 3.0 or public domain (the copyright file lists each)",
    "wesnoth-1.16-music": "GPL-2+",
    "warzone2100-music": "per album: GPL-2+, CC BY-SA 3.0 or CC0 (the copyright file lists each)",
    "nexuiz-music": "GPL-2+",
    "planetblupi-music-ogg": "GPL-3+",
}
FRETSONFIRE_PACKAGES = {
    "fretsonfire-songs-sectoid": "MIT (Expat; songs by Carlos Viola Iborra, 'Sectoid')",
    "fretsonfire-songs-muldjord": "CC BY-SA 3.0 (songs by Lars Muldjord)",
}
AUDIO_SUFFIXES = (".ogg", ".opus", ".mp3", ".flac", ".wav")
EIR_URL = "https://github.com/ichbinsoftware/everythingisremixed"
DEMO_SONG = "2.Lithium"


def say(text: str) -> None:
    print(f"get-real-music: {text}", file=sys.stderr, flush=True)


def safe_name(text: str) -> str:
    """A file name from a path inside a package: letters, digits, '-', '_' and '.'."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return keep.strip("._") or "track"


def unpack(package: str, debs: Path) -> Path:
    """``apt-get download`` the package (once) and unpack it into a temporary folder."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        say(f"apt-get download {package}")
        subprocess.run(["apt-get", "download", "-q", package], cwd=debs, check=True, stdout=subprocess.DEVNULL)
        found = sorted(debs.glob(f"{package}_*.deb"))
    folder = Path(tempfile.mkdtemp(prefix=f"{package}-"))
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(folder)], check=True)
    return folder


def keep_licence(package: str, unpacked: Path, dataset: Path) -> None:
    copyright_file = unpacked / "usr/share/doc" / package / "copyright"
    (dataset / "licenses").mkdir(parents=True, exist_ok=True)
    if copyright_file.exists():
        shutil.copyfile(copyright_file, dataset / "licenses" / f"{package}.copyright")


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def game_music(dest: Path, debs: Path) -> None:
    dataset = dest / "game-music"
    for package in GAME_PACKAGES:
        if (dataset / "licenses" / f"{package}.copyright").exists():
            continue  # done on an earlier run (the licence is written last)
        unpacked = unpack(package, debs)
        count = 0
        for path in sorted(unpacked.rglob("*")):
            if path.is_symlink():  # another name for a file taken already (drascula's per-language folders)
                continue
            if path.suffix.lower() in AUDIO_SUFFIXES:
                items = [(path.relative_to(unpacked / "usr/share").as_posix(), path.read_bytes())]
            elif path.suffix.lower() == ".pk3":
                with zipfile.ZipFile(path) as archive:
                    items = [(n, archive.read(n)) for n in archive.namelist() if n.lower().endswith(AUDIO_SUFFIXES)]
            else:
                continue
            for inner, data in items:
                stem, suffix = os.path.splitext(inner)
                target = dataset / "train" / f"{package}--{safe_name(stem)}{suffix.lower()}"
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists() and not (dataset / "excluded" / target.name).exists():
                    write_atomically(target, data)
                count += 1
        keep_licence(package, unpacked, dataset)
        shutil.rmtree(unpacked)
        say(f"{package}: {count} tracks")


def fretsonfire(dest: Path, debs: Path) -> None:
    dataset = dest / "fretsonfire"
    for package in FRETSONFIRE_PACKAGES:
        if (dataset / "licenses" / f"{package}.copyright").exists():
            continue
        unpacked = unpack(package, debs)
        songs = sorted(p.parent for p in unpacked.rglob("song.ogg"))
        for song in songs:
            target = dataset / "train" / f"{package}--{safe_name(song.name)}.flac"
            if target.exists() or (dataset / "excluded" / target.name).exists():
                continue
            parts = [sf.read(p, dtype="float32", always_2d=True) for p in sorted(song.glob("*.ogg"))]
            rates = {rate for _, rate in parts}
            if len(rates) != 1:
                raise SystemExit(f"get-real-music: {song}: parts at different rates {sorted(rates)}")
            length = max(a.shape[0] for a, _ in parts)
            mix = np.zeros((length, 2), np.float32)
            for audio, _ in parts:
                mix[: audio.shape[0]] += audio if audio.shape[1] == 2 else np.repeat(audio[:, :1], 2, axis=1)
            peak = float(np.abs(mix).max())
            if peak > 1.0:  # the parts' plain sum would clip in 16 bits: scale it just below full scale
                mix *= 0.999 / peak
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            sf.write(tmp, mix, rates.pop(), format="FLAC", subtype="PCM_16")
            os.replace(tmp, target)
        keep_licence(package, unpacked, dataset)
        shutil.rmtree(unpacked)
        say(f"{package}: {len(songs)} songs (song.ogg + guitar.ogg)")


def screen(dataset: Path, vocal_db: float, vocal_fraction: float) -> None:
    """Move the tracks of an instrumental dataset in which Spleeter hears singing to
    ``excluded/``; record every score in ``screening.json``."""
    import torch

    from lightsep.audio import read_audio
    from lightsep.checkpoint import load_checkpoint
    from lightsep.peers import get_peer

    record_path = dataset / "screening.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    todo = [p for p in sorted((dataset / "train").iterdir()) if p.is_file() and p.name not in record]
    if not todo:
        return
    torch.set_num_threads(1)
    model = load_checkpoint(get_peer("spleeter-2stem"))
    segment, rate = model.context_samples, model.sample_rate
    for path in todo:
        audio, _ = read_audio(path, rate, 2)
        starts = list(range(0, max(audio.shape[1] - segment, 0) + 1, 60 * rate))
        vocal_seconds = loud_seconds = 0
        for start in starts:
            piece = np.zeros((2, segment), np.float32)
            chunk = audio[:, start : start + segment]
            piece[:, : chunk.shape[1]] = chunk
            with torch.inference_mode():
                vocals = model(torch.from_numpy(piece)[None])[0, 0].numpy()
            for second in range(chunk.shape[1] // rate):
                window = slice(second * rate, (second + 1) * rate)
                mixture_energy = float(np.mean(piece[:, window] ** 2))
                if mixture_energy < 1e-6:  # below -60 dBFS: silence, not counted
                    continue
                loud_seconds += 1
                vocal_seconds += float(np.mean(vocals[:, window] ** 2)) > mixture_energy * 10 ** (-vocal_db / 10)
        fraction = vocal_seconds / loud_seconds if loud_seconds else 0.0
        excluded = fraction > vocal_fraction
        record[path.name] = {"vocal_seconds": vocal_seconds, "seconds": loud_seconds, "fraction": round(fraction, 4),
                             "excluded": excluded}  # fmt: skip
        if excluded:
            (dataset / "excluded").mkdir(exist_ok=True)
            os.replace(path, dataset / "excluded" / path.name)
            say(f"{dataset.name}: {path.name}: singing in {vocal_seconds} of {loud_seconds} s: excluded")
        write_atomically(record_path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    kept = sum(not r["excluded"] for r in record.values())
    say(f"{dataset.name}: {kept} tracks kept, {len(record) - kept} excluded (screening.json)")


def stems_folder(clone: Path) -> Path:
    """The ``src/`` folder of a clone; for a git folder without a work tree (a bare clone or
    a mirror), its ``HEAD:src`` written out to a temporary folder. Files whose contents the
    git folder lacks (a partial snapshot) are left out and counted: each large stem of
    Everything is Remixed has a smaller ``_mobile`` copy that ``import-stems`` takes instead."""
    if (clone / "src").is_dir():
        return clone / "src"
    git = ["git", "-C", str(clone)]
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", "HEAD", "src"], capture_output=True)
    if listing.returncode != 0 or not listing.stdout:
        sys.exit(f"get-real-music: {clone}: neither a clone with src/ nor a git folder whose HEAD has src/")
    out = Path(tempfile.mkdtemp(prefix="everythingisremixed-"))
    written = missing = 0
    for entry in filter(None, listing.stdout.split(b"\0")):
        meta, path = entry.split(b"\t", 1)
        _, kind, object_id = meta.split()
        if kind != b"blob":
            continue
        blob = subprocess.run([*git, "cat-file", "blob", object_id.decode()], capture_output=True)
        if blob.returncode != 0:
            missing += 1
            continue
        target = out / os.fsdecode(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        written += 1
    say(f"everythingisremixed: {written} files from {clone}'s HEAD:src, {missing} absent from it")
    return out / "src"


def everything_is_remixed(dest: Path, clone: Path | None) -> None:
    dataset = dest / "everythingisremixed"
    if (dataset / "test" / DEMO_SONG).exists():
        return
    if clone is None:
        clone = Path(tempfile.mkdtemp(prefix="everythingisremixed-")) / "repo"
        say(f"git clone {EIR_URL}")
        subprocess.run(["git", "clone", "-q", "--depth", "1", EIR_URL, str(clone)], check=True)
    lightsep = [sys.executable, "-m", "lightsep"]
    stems = stems_folder(clone)
    try:
        subprocess.run([*lightsep, "import-stems", str(stems), str(dataset), "--each", "--gain", "-6"], check=True)
    finally:
        if stems != clone / "src":
            shutil.rmtree(stems.parent)
    (dataset / "test").mkdir(exist_ok=True)
    os.replace(dataset / "train" / DEMO_SONG, dataset / "test" / DEMO_SONG)
    say(f"everythingisremixed: imported, {DEMO_SONG} held out in test/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=ROOT / "data")
    parser.add_argument("--everythingisremixed", type=Path, help="a clone of ichbinsoftware/everythingisremixed, or its git folder (a bare clone or mirror)")
    parser.add_argument("--musdb18-7", dest="musdb", type=Path, help="the MUSDB18 7-second clips (train/, test/)")
    parser.add_argument("--no-screen", action="store_true", help="keep every instrumental track (no singing check)")
    parser.add_argument("--vocal-db", type=float, default=6.0)
    parser.add_argument("--vocal-fraction", type=float, default=0.1)
    args = parser.parse_args()
    dest = args.dest.resolve()
    debs = dest / ".debian"
    game_music(dest, debs)
    fretsonfire(dest, debs)
    if not args.no_screen:
        for name in ("game-music", "fretsonfire"):
            screen(dest / name, args.vocal_db, args.vocal_fraction)
    everything_is_remixed(dest, args.everythingisremixed)
    if args.musdb is not None and not (dest / "musdb18-7").exists():
        (dest / "musdb18-7").symlink_to(args.musdb.resolve())
    if not (dest / "musdb18-7").exists():
        say("musdb18-7 is missing: give --musdb18-7 FOLDER, or python -c \"import musdb; musdb.DB(root='data/musdb18-7', download=True)\"")
    say("done")


if __name__ == "__main__":
    main()
