"""Run under torchrun by ``test_training.py``: ``lightsep train`` as the command runs it, and
each process writes a hash of its model's parameters next to the run folder when training
ends, so the test can check that the processes still hold the same model."""

import hashlib

import lightsep.training as training
from lightsep import cli

_fit = training.Trainer.fit


def _fit_and_hash(self):
    progress = _fit(self)
    digest = hashlib.sha256()
    for name, tensor in self.model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    (self.run_dir.parent / f"parameters-rank{self.world.rank}.sha256").write_text(digest.hexdigest())
    return progress


training.Trainer.fit = _fit_and_hash
cli.run()
