"""Audio I/O: reading, writing, resampling and channel handling.

Audio arrays are ``float32`` NumPy arrays of shape ``(channels, samples)``.

Reading uses soundfile (libsndfile: wav, flac, ogg, mp3, aiff, ...) and falls back to the
``ffmpeg`` command for everything else (m4a/aac/mp4, and each audio stream of a MUSDB18
``.stem.mp4``). Resampling uses soxr. Writing goes to a temporary name in the target folder
that is renamed into place, so an interrupted write never leaves a broken file under the
final name. Every failure raises :class:`AudioError` with a one-line message naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import LightsepError
from .fileio import OutputSet, atomic_path, not_a_file

SOUNDFILE_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au", ".w64", ".caf"}
FFMPEG_EXTENSIONS = {".m4a", ".mp4", ".aac", ".m4b", ".mov", ".opus", ".webm", ".mka", ".wma"}
WRITE_FORMATS = ("wav", "flac", "mp3")
BIT_DEPTHS = (16, 24, 32)


class AudioError(LightsepError):
    """An audio file cannot be read or written."""


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int
    streams: int = 1
    exact: bool = False
    """``frames`` is the decoder's count, not an estimate from the stream's duration."""
    header_frames: int | None = None
    """The frames a WAV file's header announces, when more than it holds (a truncated file)."""

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


# --------------------------------------------------------------------------------------
# Checks shared by every reader
# --------------------------------------------------------------------------------------


def _check_readable(path: Path) -> None:
    problem = not_a_file(path)
    if problem in ("a FIFO", "a device", "not a regular file"):
        raise AudioError(f"{path}: {problem}, not an audio file (give a file; raw audio from a pipe: lightsep stream -)")
    if problem == "is a directory":
        raise AudioError(f"{path}: is a directory, not an audio file")
    if problem is not None:
        raise AudioError(f"{path}: {problem}")
    info = path.stat()
    if info.st_size == 0:
        with open(path, "rb") as handle:  # /proc files say 0 bytes and still hold some
            if not handle.read(1):
                raise AudioError(f"{path}: empty file (0 bytes)")
        raise AudioError(f"{path}: not an audio file (a file whose size the system does not tell, such as one in /proc)")


def write_failure(path: str | os.PathLike, exc: BaseException) -> AudioError:
    """The one line for a failed write of ``path``: a full disk says so (libsndfile only
    says "System error."), anything else gives its own reason."""
    folder = Path(path).parent
    try:
        full = shutil.disk_usage(folder if folder.exists() else ".").free < (1 << 20)
    except OSError:
        full = False
    if full or getattr(exc, "errno", None) == errno.ENOSPC:
        return AudioError(f"{path}: cannot write (no space left on device)")
    reason = getattr(exc, "strerror", None) or _first_line(exc)
    return AudioError(f"{path}: cannot write audio ({reason})")


def _extension(path: Path) -> str:
    return path.suffix.lower()


def _uses_ffmpeg(path: Path) -> bool:
    ext = _extension(path)
    if ext in FFMPEG_EXTENSIONS:
        return True
    if ext in SOUNDFILE_EXTENSIONS:
        return False
    raise AudioError(
        f"{path}: unsupported audio format '{ext or '(no extension)'}'; "
        f"supported: {', '.join(sorted(SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS))}"
    )


def _ffmpeg(tool: str = "ffmpeg") -> str:
    found = shutil.which(tool)
    if found is None:
        raise AudioError(f"{tool} is not installed; it is needed for this format (Debian: apt-get install ffmpeg)")
    return found


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def audio_info(path: str | os.PathLike, stream: int = 0) -> AudioInfo:
    """Sample rate, channels and frames of audio stream ``stream``, and the file's number of
    audio streams."""
    path = Path(path)
    _check_readable(path)
    if not _uses_ffmpeg(path) and stream == 0:
        try:
            with _decoder_messages_hidden():
                info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{path}: cannot read audio ({_soundfile_reason(exc, path)})") from None
        if info.frames <= 0:
            raise AudioError(f"{path}: no audio samples in file")
        if info.samplerate <= 0 or info.channels <= 0:
            raise AudioError(f"{path}: invalid header ({info.samplerate} Hz, {info.channels} channel(s))")
        announced = _wav_announced_frames(path) if _extension(path) == ".wav" else None
        header_frames = announced if announced is not None and announced > info.frames else None
        return AudioInfo(info.samplerate, info.channels, info.frames, exact=True, header_frames=header_frames)
    streams = _ffprobe_streams(path)
    if stream >= len(streams):
        raise AudioError(f"{path}: has {len(streams)} audio stream(s), stream {stream} requested")
    return streams[stream]


@contextlib.contextmanager
def _decoder_messages_hidden():
    """Hide what C decoders print on the process's stderr (libsndfile's mpg123 prints
    'Note: Illegal Audio-MPEG-Header' and the like for a damaged or foreign file): the
    reason reaches the user once, in lightsep's own error line."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _soundfile_reason(exc: Exception, path: Path) -> str:
    reason = _first_line(exc)
    if "does not exist or is not a regular file" in reason or "unknown format" in reason.lower():
        # libsndfile's words when no decoder recognises the bytes; the file does exist
        return f"not a valid {_extension(path).lstrip('.') or 'audio'} file, or an encoding libsndfile cannot decode"
    return reason


def _wav_announced_frames(path: Path) -> int | None:
    """The frames a RIFF/WAVE header's ``data`` chunk announces (``None`` if unknown, or
    for a header written as 'until the end of the file')."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if kind == b"fmt ":
                    fmt = handle.read(size + size % 2)
                    block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                elif kind == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block_align
                else:
                    handle.seek(size + size % 2, os.SEEK_CUR)
    except OSError:
        return None


def _ffprobe_streams(path: Path) -> list[AudioInfo]:
    """One :class:`AudioInfo` per audio stream (frames estimated from the stream duration).

    Remembered per file version (path, size, modification time, inode): reading the five
    streams of a MUSDB18 ``.stem.mp4`` asks for them once per stream, and ``check-data``
    asks again for each stem's header, each time an ffprobe process."""
    try:
        status = os.stat(path)
    except OSError:  # ffprobe says what is wrong
        return list(_probe(str(path)))
    return list(_probe_version(str(path), status.st_size, status.st_mtime_ns, status.st_ino))


@functools.lru_cache(maxsize=64)
def _probe_version(path: str, size: int, mtime_ns: int, inode: int) -> tuple[AudioInfo, ...]:
    return _probe(path)


def _probe(path: str) -> tuple[AudioInfo, ...]:
    command = [
        _ffmpeg("ffprobe"), "-v", "error", "-select_streams", "a",
        "-show_entries", "stream=sample_rate,channels,duration", "-of", "json", str(path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise AudioError(f"{path}: cannot read audio ({_first_line(result.stderr) or 'ffprobe failed'})")
    streams = json.loads(result.stdout or "{}").get("streams", [])
    if not streams:
        raise AudioError(f"{path}: no audio stream in file")
    infos = []
    for stream in streams:
        rate = int(stream["sample_rate"])
        frames = int(round(float(stream.get("duration", 0.0)) * rate))
        infos.append(AudioInfo(rate, int(stream["channels"]), frames, len(streams)))
    return tuple(infos)


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    channels: int | None = None,
    stream: int = 0,
) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(channels, samples)`` float32.

    Args:
        sample_rate: resample to this rate (soxr); ``None`` keeps the file's.
        channels: convert to this many channels (see :func:`convert_channels`).
        stream: which audio stream of a multi-stream container (``.stem.mp4``) to read.

    Returns: ``(audio, sample_rate)``.
    """
    path = Path(path)
    _check_readable(path)
    if _uses_ffmpeg(path) or stream:
        audio, rate = _read_ffmpeg(path, stream)
    else:
        try:
            with _decoder_messages_hidden():
                data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{path}: cannot read audio ({_soundfile_reason(exc, path)})") from None
        audio = np.ascontiguousarray(data.T)
    if audio.shape[-1] == 0:
        raise AudioError(f"{path}: no audio samples in file")
    if channels is not None:
        audio = convert_channels(audio, channels)
    if sample_rate is not None and sample_rate != rate:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return audio, rate


def _read_ffmpeg(path: Path, stream: int) -> tuple[np.ndarray, int]:
    streams = _ffprobe_streams(path)
    if stream >= len(streams):
        raise AudioError(f"{path}: has {len(streams)} audio stream(s), stream {stream} requested")
    rate, n_channels = streams[stream].sample_rate, streams[stream].channels
    command = [
        _ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:a:{stream}",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(n_channels), "-ar", str(rate), "-",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise AudioError(f"{path}: cannot decode audio ({_first_line(result.stderr.decode(errors='replace'))})")
    samples = np.frombuffer(result.stdout, dtype="<f4")
    samples = samples[: len(samples) - len(samples) % n_channels]
    audio = samples.reshape(-1, n_channels).T
    # AAC decoders emit the encoder's padding after the last frame: keep the stream's duration
    if 0 < streams[stream].frames < audio.shape[-1]:
        audio = audio[:, : streams[stream].frames]
    return np.ascontiguousarray(audio), rate


def read_stems(path: str | os.PathLike, sample_rate: int | None = None, channels: int | None = None) -> list[np.ndarray]:
    """Every audio stream of a multi-stream file (a MUSDB18 ``.stem.mp4``: mixture, drums,
    bass, other, vocals), each ``(channels, samples)``; streams are trimmed to the shortest."""
    info = audio_info(path)
    stems = [read_audio(path, sample_rate, channels, stream=k)[0] for k in range(info.streams)]
    length = min(s.shape[-1] for s in stems)
    return [s[..., :length] for s in stems]


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[-1] if text else ""


# --------------------------------------------------------------------------------------
# Signal conversions
# --------------------------------------------------------------------------------------


def resample(audio: np.ndarray, from_rate: int, to_rate: int, quality: str = "HQ") -> np.ndarray:
    """Resample ``(channels, samples)`` with soxr. The output has
    ``round(samples * to_rate / from_rate)`` samples."""
    if from_rate == to_rate:
        return audio
    out = soxr.resample(np.ascontiguousarray(audio.T), from_rate, to_rate, quality=quality)
    return np.ascontiguousarray(out.T, dtype=np.float32)


def convert_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Convert ``(C, samples)`` to ``(channels, samples)``: to mono by averaging, from mono by
    copying, and otherwise by keeping the first ``channels`` channels (or repeating them)."""
    current = audio.shape[0]
    if current == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
    if current == 1:
        return np.repeat(audio, channels, axis=0)
    if current > channels:
        return np.ascontiguousarray(audio[:channels])
    reps = -(-channels // current)
    return np.ascontiguousarray(np.tile(audio, (reps, 1))[:channels])


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

_SUBTYPES = {
    ("wav", 16): "PCM_16",
    ("wav", 24): "PCM_24",
    ("wav", 32): "FLOAT",
    ("flac", 16): "PCM_16",
    ("flac", 24): "PCM_24",
}


def write_audio(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    format: str | None = None,
    bit_depth: int = 16,
) -> Path:
    """Write ``(channels, samples)`` audio atomically.

    ``format`` is ``wav``, ``flac`` or ``mp3`` (default: from the extension). ``bit_depth`` is
    16 or 24 (PCM) or 32 (float; wav only). MP3 is written at libsndfile's default quality.
    Float samples beyond [-1, 1] are clipped for the integer formats; an ``int16`` array is
    written as 16-bit PCM exactly.
    """
    path = Path(path)
    format = (format or _extension(path).lstrip(".")).lower()
    if format not in WRITE_FORMATS:
        raise AudioError(f"{path}: cannot write format '{format}'; choose one of {', '.join(WRITE_FORMATS)}")
    if bit_depth not in BIT_DEPTHS:
        raise AudioError(f"{path}: bit depth must be one of {BIT_DEPTHS}, got {bit_depth}")
    if format == "flac" and bit_depth == 32:
        raise AudioError(f"{path}: FLAC stores at most 24-bit samples; use --bit-depth 16 or 24")
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise AudioError(f"{path}: audio must be (channels, samples), got shape {audio.shape}")
    if audio.dtype == np.int16:  # exact 16-bit samples, written as they are
        if format == "mp3":
            raise AudioError(f"{path}: 16-bit integer samples are written as wav or flac, not mp3")
        bit_depth, data = 16, audio.T
    else:
        data = audio.astype(np.float32, copy=False).T
        if not (format == "wav" and bit_depth == 32):
            data = np.clip(data, -1.0, 1.0)
    if format == "mp3":
        subtype, sf_format = "MPEG_LAYER_III", "MP3"
    else:
        subtype, sf_format = _SUBTYPES[(format, bit_depth)], format.upper()
    try:
        with atomic_path(path, suffix="." + format) as tmp:
            sf.write(str(tmp), data, sample_rate, subtype=subtype, format=sf_format)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise write_failure(path, exc) from None
    except OSError as exc:
        raise write_failure(path, exc) from None
    return path


# --------------------------------------------------------------------------------------
# Block-wise reading and writing, for long files in bounded memory
# --------------------------------------------------------------------------------------


def iter_audio_blocks(path: str | os.PathLike, block_frames: int = 65536, stream: int = 0):
    """Yield a file's audio as ``(channels, n)`` float32 blocks of at most ``block_frames``,
    without reading the whole file (soundfile, or an ``ffmpeg`` pipe)."""
    path = Path(path)
    info = audio_info(path, stream)
    if not _uses_ffmpeg(path) and stream == 0:
        try:
            with _decoder_messages_hidden():  # each call into the decoder, not the caller's work between blocks
                handle = sf.SoundFile(str(path))
            with handle:
                while True:
                    with _decoder_messages_hidden():
                        data = handle.read(block_frames, dtype="float32", always_2d=True)
                    if not len(data):
                        return
                    yield np.ascontiguousarray(data.T)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"{path}: cannot read audio ({_first_line(exc)})") from None
    command = [
        _ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:a:{stream}",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(info.channels), "-ar", str(info.sample_rate), "-",
    ]  # fmt: skip
    frame_bytes = 4 * info.channels
    remaining = info.frames if info.frames > 0 else None  # drop the AAC padding, as read_audio does
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while remaining is None or remaining > 0:
            want = block_frames if remaining is None else min(block_frames, remaining)
            raw = process.stdout.read(want * frame_bytes)
            raw = raw[: len(raw) - len(raw) % frame_bytes]
            if not raw:
                break
            block = np.frombuffer(raw, dtype="<f4").reshape(-1, info.channels).T
            if remaining is not None:
                remaining -= block.shape[1]
            yield np.ascontiguousarray(block)
    finally:
        process.stdout.close()
        process.kill()
        error = process.stderr.read().decode(errors="replace")
        process.wait()
    if process.returncode not in (0, -9) and error.strip():
        raise AudioError(f"{path}: cannot decode audio ({_first_line(error)})")


class AudioWriter:
    """Write audio block by block to a temporary name, renamed onto ``path`` by
    :meth:`commit` (or removed by :meth:`abort`): ``write((channels, n))``.

    With ``outputs`` (an :class:`~lightsep.fileio.OutputSet`), the file joins that set and is
    renamed into place with the others when the set commits; :meth:`close` then only closes
    it. Samples beyond [-1, 1] are clipped for the integer formats and counted in
    ``clipped``.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, format: str | None = None,
                 bit_depth: int = 16, outputs: OutputSet | None = None):  # fmt: skip
        self.path = Path(path)
        format = (format or _extension(self.path).lstrip(".")).lower()
        if format not in WRITE_FORMATS:
            raise AudioError(f"{path}: cannot write format '{format}'; choose one of {', '.join(WRITE_FORMATS)}")
        if bit_depth not in BIT_DEPTHS or (format == "flac" and bit_depth == 32):
            raise AudioError(f"{path}: bit depth {bit_depth} is not available for {format}")
        self.clip = not (format == "wav" and bit_depth == 32)
        self.clipped = 0
        subtype = "MPEG_LAYER_III" if format == "mp3" else _SUBTYPES[(format, bit_depth)]
        self._own = outputs is None
        self._outputs = OutputSet() if outputs is None else outputs
        self._handle = None
        tmp = self._outputs.path(self.path, suffix="." + format)
        try:
            self._handle = sf.SoundFile(str(tmp), "w", sample_rate, channels, subtype=subtype, format=format.upper())
        except (sf.LibsndfileError, RuntimeError) as exc:
            if self._own:
                self._outputs.abort()
            raise write_failure(path, exc) from None

    def write(self, block: np.ndarray) -> None:
        data = np.asarray(block, dtype=np.float32).T
        if self.clip:
            over = np.abs(data) > 1.0
            if over.any():
                self.clipped += int(np.count_nonzero(over))
                data = np.clip(data, -1.0, 1.0)
        try:
            self._handle.write(data)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise write_failure(self.path, exc) from None

    def close(self) -> None:
        """Finish the file (its temporary); raises :class:`AudioError` if that fails."""
        if self._handle is not None and not self._handle.closed:
            try:
                self._handle.close()
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise write_failure(self.path, exc) from None

    def commit(self) -> Path:
        self.close()
        if self._own:
            self._outputs.commit()
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(AudioError):
            self.close()
        if self._own:
            self._outputs.abort()


@contextlib.contextmanager
def stem_writers(paths: dict[str, Path], sample_rate: int, channels: int, format: str | None = None, bit_depth: int = 16):
    """One :class:`AudioWriter` per stem, as a dict, in one :class:`~lightsep.fileio.OutputSet`:
    all renamed into place together when the block exits normally, none when it raises
    (earlier files under the final names are left untouched). Clipped samples are reported
    as one warning per stem."""
    outputs = OutputSet()
    writers: dict[str, AudioWriter] = {}
    try:
        for name, path in paths.items():
            writers[name] = AudioWriter(path, sample_rate, channels, format, bit_depth, outputs)
        yield writers
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            with contextlib.suppress(AudioError):
                writer.close()
        outputs.abort()
        raise
    outputs.commit()
    for writer in writers.values():
        if writer.clipped:
            warnings.warn(f"{writer.path}: {writer.clipped} sample(s) beyond full scale were clipped "
                          "(--bit-depth 32 writes float WAV, which keeps them)", stacklevel=3)  # fmt: skip
