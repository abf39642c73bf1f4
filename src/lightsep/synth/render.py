"""Rendering a composed song's stems with FluidSynth and a General MIDI soundfont.

Each stem is written as its own MIDI file (with mido) and rendered on its own by the
``fluidsynth`` command to 32-bit float WAV, so the stems are isolated. Float output avoids
FluidSynth's dithering, so the same MIDI gives the same bytes every time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import LightsepError
from .composer import Part, Song

TICKS_PER_BEAT = 480
DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
BEND_RANGE_SEMITONES = 2


class SynthError(LightsepError):
    """FluidSynth or the soundfont is missing, or rendering failed."""


def find_fluidsynth() -> str:
    path = shutil.which("fluidsynth")
    if path is None:
        raise SynthError("fluidsynth is not installed (Debian: apt-get install fluidsynth fluid-soundfont-gm)")
    return path


def check_soundfont(soundfont: str | Path | None) -> Path:
    path = Path(soundfont) if soundfont else DEFAULT_SOUNDFONT
    if not path.is_file():
        raise SynthError(f"{path}: soundfont not found (Debian: apt-get install fluid-soundfont-gm)")
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise SynthError(f"{path}: cannot read the soundfont ({exc.strerror or exc})") from None
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise SynthError(f"{path}: not a SoundFont (.sf2/.sf3) file")
    return path


def write_midi(parts: list[Part], tempo: float, path: Path) -> None:
    """One MIDI file (type 1, one track per part) for one stem."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=int(round(60_000_000 / tempo)), time=0))
    midi.tracks.append(conductor)
    for part in parts:
        ch = part.channel
        setup = [
            mido.Message("control_change", channel=ch, control=101, value=0),  # RPN 0: pitch-bend range
            mido.Message("control_change", channel=ch, control=100, value=0),
            mido.Message("control_change", channel=ch, control=6, value=BEND_RANGE_SEMITONES),
            mido.Message("control_change", channel=ch, control=38, value=0),
            mido.Message("control_change", channel=ch, control=7, value=part.volume),
            mido.Message("control_change", channel=ch, control=10, value=part.pan),
            mido.Message("control_change", channel=ch, control=91, value=40),  # reverb send
        ]
        if ch != 9:
            setup.append(mido.Message("program_change", channel=ch, program=part.program))
        # (tick, order, message): note-offs before bends before note-ons at the same tick
        events: list[tuple[int, int, object]] = []
        for note in part.notes:
            on = int(round(note.start * TICKS_PER_BEAT))
            off = max(int(round((note.start + note.duration) * TICKS_PER_BEAT)), on + 1)
            events.append((on, 2, mido.Message("note_on", channel=ch, note=note.pitch, velocity=note.velocity)))
            events.append((off, 0, mido.Message("note_off", channel=ch, note=note.pitch, velocity=0)))
        for bend in part.bends:
            value = int(np.clip(bend.value, -8192, 8191))
            events.append((int(round(bend.time * TICKS_PER_BEAT)), 1, mido.Message("pitchwheel", channel=ch, pitch=value)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack(setup)
        now = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    midi.save(str(path))


def render_midi(midi_path: Path, wav_path: Path, sample_rate: int, soundfont: Path, gain: float = 0.5) -> None:
    command = [
        find_fluidsynth(), "-n", "-i", "-q", "-g", str(gain), "-r", str(sample_rate),
        "-O", "float", "-T", "wav", "-F", str(wav_path), str(soundfont), str(midi_path),
    ]  # fmt: skip
    # FluidSynth's PulseAudio client writes ~/.config/pulse and $TMPDIR/pulse-* even when it
    # renders to a file: it gets a home and a temporary folder of its own, removed afterwards
    with tempfile.TemporaryDirectory(prefix="lightsep-fluidsynth-") as private:
        env = {**os.environ, "HOME": private, "TMPDIR": private, "XDG_CONFIG_HOME": private, "XDG_RUNTIME_DIR": private}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0 or not wav_path.exists():
        message = (result.stderr or result.stdout).strip().splitlines()
        raise SynthError(f"fluidsynth failed on {midi_path.name}: {message[-1] if message else 'no output'}")


def render_stems(
    song: Song, seconds: float, sample_rate: int = 44100, soundfont: str | Path | None = None
) -> dict[str, np.ndarray]:
    """Every stem of ``song`` as ``(2, round(seconds * sample_rate))`` float32, with a 50 ms
    fade-out at the end (applied alike to all stems, so their sum is unchanged)."""
    soundfont = check_soundfont(soundfont)
    length = int(round(seconds * sample_rate))
    stems = {}
    with tempfile.TemporaryDirectory(prefix="lightsep-synth-") as tmp:
        for name, parts in song.stems.items():
            midi_path, wav_path = Path(tmp) / f"{name}.mid", Path(tmp) / f"{name}.wav"
            write_midi(parts, song.tempo, midi_path)
            render_midi(midi_path, wav_path, sample_rate, soundfont)
            audio, _ = sf.read(str(wav_path), dtype="float32", always_2d=True)
            audio = audio.T[:, :length]
            if audio.shape[1] < length:
                audio = np.pad(audio, ((0, 0), (0, length - audio.shape[1])))
            stems[name] = audio
    fade = min(int(0.05 * sample_rate), length)
    ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
    for audio in stems.values():
        audio[:, length - fade :] *= ramp
    return stems
