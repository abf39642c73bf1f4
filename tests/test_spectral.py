"""The spectrogram-mask family (lightsep.models.spectral): shapes, sizes, masks, the
convolutional STFT of the export, ONNX parity, checkpoints and separation."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from helpers import load_script
from lightsep.analysis import count_parameters, gflops_per_audio_second, measure_input_span
from lightsep.checkpoint import load_checkpoint, save_checkpoint
from lightsep.export import export_onnx
from lightsep.models import build_model
from lightsep.models.registry import SPECTRAL_TRAINING_GEOMETRY
from lightsep.models.spectral import MEMBER_ARGUMENTS, ConvSTFT, SpectralMaskNet, band_centres, ensemble_of, interpolation_matrix
from lightsep.separator import Separator
from lightsep.streaming import StreamingSeparator

SMALL = dict(context_samples=4096, n_fft=256, hop=64, bands=48, full_resolution_bins=24, hidden=16, output_start=512,
             output_samples=3072)  # fmt: skip


BAND_CONVOLUTIONS = dict(frequency_channels=[4, 6, 8], time_kernel=3)
"""Band-axis convolutions (a U-Net over frequency) in place of the dense input and mask layers."""
BOTH_PATHS = dict(BAND_CONVOLUTIONS, dense_too=True)
"""The same beside the dense layers: features and logits summed."""
ENSEMBLE = dict(members=[{}, BAND_CONVOLUTIONS])
"""A dense network and a band-convolution one, their masks averaged."""
every_network = pytest.mark.parametrize(
    "convolutions", [{}, BAND_CONVOLUTIONS, BOTH_PATHS, ENSEMBLE], ids=["dense", "band-convolutions", "both", "ensemble"]
)
"""A test run for each of the four kinds of network, its ``convolutions`` argument the overrides."""


def small(sources=("vocals", "accompaniment"), **overrides) -> SpectralMaskNet:
    """A small model; with ``members``, SMALL's network arguments go to each member."""
    arguments = {**SMALL, **overrides}
    if "members" in overrides:
        network = {key: arguments.pop(key) for key in MEMBER_ARGUMENTS if key in arguments}
        arguments["members"] = [{**network, **member} if isinstance(member, dict) else member for member in overrides["members"]]
    return SpectralMaskNet(sources=sources, **arguments).eval()


@pytest.mark.parametrize("name", ["spectral-2stem", "spectral-2stem-ensemble", "spectral-4stem"])
def test_presets_are_lightweight_and_cheaper_than_the_papers_model(name):
    model = build_model(name)
    assert count_parameters(model) <= 1_000_000
    assert gflops_per_audio_second(model) < 0.6 * gflops_per_audio_second(build_model("proposed-2stem"))


def test_the_default_overlap_is_one_crossfade_whatever_the_segment():
    # 0.28 s: a quarter of the output of the segments the models are trained on, 0.107
    # of the 2.60 s output spectral-2stem separates with, and the same time at 44.1 kHz
    assert build_model("spectral-2stem", **SPECTRAL_TRAINING_GEOMETRY).default_overlap == 0.25
    assert build_model("spectral-2stem").default_overlap == pytest.approx(6144 / 57344)
    assert build_model("spectral-2stem-live").default_overlap == 0.25
    assert small(output_samples=1024).default_overlap == 0.5  # capped


@every_network
@pytest.mark.parametrize("sources", [("vocals", "accompaniment"), ("vocals", "drums", "bass", "other")])
def test_shapes_and_the_stems_sum_to_the_mixture(sources, convolutions):
    model = small(sources, **convolutions)
    x = 0.1 * torch.randn(3, 2, model.context_samples)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (3, len(sources), 2, 3072)
    assert model.output_offset == 512
    assert torch.allclose(y.sum(dim=1), x[..., 512 : 512 + 3072], atol=1e-5)


@every_network
@pytest.mark.parametrize("sources", [("vocals", "accompaniment"), ("vocals", "drums", "bass", "other")], ids=["2", "4"])
def test_a_batch_in_chunks_separates_each_segment_as_alone(sources, convolutions):
    # forward runs the per-bin work on a few segments at a time (CHUNK_VALUES) and the
    # recurrent core on the whole batch: chunks of 2 segments and a last one of 1 must give
    # what each segment gives alone, and what masks() says, for each kind of network
    check_chunks(small(sources, **convolutions))


def test_ensemble_members_with_other_band_layouts_separate_in_chunks():
    # members with the same band layout share its features; one with another has its own
    check_chunks(small(members=[{}, dict(BAND_CONVOLUTIONS, bands=32, full_resolution_bins=16), {}]))


def check_chunks(model: SpectralMaskNet) -> None:
    sources = model.sources
    model.CHUNK_VALUES = 2 * len(sources) * model.audio_channels * model.bins * model.frames
    mixture = 0.1 * torch.randn(5, 2, model.context_samples)
    with torch.no_grad():
        batch = model(mixture)
        alone = torch.cat([model(segment[None]) for segment in mixture])
        spectrum = torch.stft(mixture.reshape(10, -1), model.n_fft, model.hop, window=model.window, pad_mode="constant", return_complex=True)
        masks = model.masks(spectrum.abs().reshape(5, 2, model.bins, -1))  # (B, S, C, bins, N)
        masked = (spectrum.reshape(5, 1, 2, model.bins, -1) * masks).reshape(-1, model.bins, model.frames)
        direct = torch.istft(masked, model.n_fft, model.hop, window=model.window, length=model.context_samples)
    window = slice(model.output_start, model.output_start + model.output_samples)
    assert torch.allclose(batch, alone, atol=1e-6)
    assert torch.allclose(batch[:, :-1], direct.reshape(5, len(sources), 2, -1)[:, :-1, :, window], atol=1e-5)


@every_network
def test_masks_are_soft_and_sum_to_one(convolutions):
    model = small(("vocals", "drums", "bass", "other"), **convolutions)
    magnitude = torch.rand(2, 2, model.bins, model.frames) * 3
    with torch.no_grad():
        masks = model.masks(magnitude)
    assert masks.shape == (2, 4, 2, model.bins, model.frames)
    assert (masks >= 0).all() and (masks <= 1).all()
    assert torch.allclose(masks.sum(dim=1), torch.ones(()), atol=1e-5)


def test_band_layout():
    centres = band_centres(513, 256, 128)
    assert centres[0] == 0 and centres[-1] == 512 and len(centres) == 256
    assert np.all(np.diff(centres) >= 1) and np.array_equal(centres[:128], np.arange(128))
    matrix = interpolation_matrix(513, 256, 128)
    assert np.allclose(matrix.sum(axis=0), 1.0)  # every bin is interpolated from the bands
    assert np.array_equal(matrix[:128, :128], np.eye(128))  # the low bins keep their own values
    ramp = np.arange(256, dtype=np.float32) @ matrix  # a linear function of the centres...
    assert np.allclose(np.interp(np.arange(513), centres, np.arange(256)), ramp, atol=1e-4)  # ...is interpolated linearly


def test_the_convolutional_stft_is_torchs():
    n_fft, hop, length = 256, 64, 2048
    transform = ConvSTFT(n_fft, hop, length)
    x = torch.randn(3, length)
    window = torch.hann_window(n_fft)
    spectrum = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    real, imag = transform(x)
    assert torch.allclose(real, spectrum.real, atol=1e-4) and torch.allclose(imag, spectrum.imag, atol=1e-4)
    expected = torch.istft(spectrum, n_fft, hop, window=window, center=True, length=length)
    assert torch.allclose(transform.inverse(spectrum.real, spectrum.imag), expected, atol=1e-5)
    assert torch.allclose(expected, x, atol=1e-5)  # and it reconstructs


@every_network
def test_onnx_equals_torch(tmp_path, convolutions):
    model = small(**convolutions)  # a causal one exports its frame step instead (tests/test_export.py)
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "s.onnx")), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = 0.1 * torch.randn(batch, 2, model.context_samples)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"mixture": x.numpy()})[0]
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


@every_network
def test_checkpoint_round_trip(tmp_path, convolutions):
    model = small(**convolutions)
    model.name = "spectral-small"
    path = save_checkpoint(model, tmp_path / "s.pt")
    assert torch.load(path, weights_only=True)["model_class"] == "SpectralMaskNet"
    loaded = load_checkpoint(path)
    assert loaded.config == model.config
    x = 0.1 * torch.randn(1, 2, model.context_samples)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_dropout_acts_in_training_only_and_travels_with_the_checkpoint(tmp_path):
    model = small(dropout=0.3, layers=2)
    model.name = "spectral-small"
    assert model.config["dropout"] == 0.3 and "dropout" not in small().config
    x = 0.1 * torch.randn(2, 2, model.context_samples)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))  # a new draw per call
        model.eval()
        assert torch.equal(model(x), model(x))
        loaded = load_checkpoint(save_checkpoint(model, tmp_path / "s.pt"))
        assert loaded.config["dropout"] == 0.3 and torch.equal(model(x), loaded(x))


def test_a_causal_model_does_not_look_ahead():
    model = small(bidirectional=False)
    x = 0.1 * torch.randn(1, 2, model.context_samples)
    changed = x.clone()
    changed[..., 3000:] = 0.1 * torch.randn(2, model.context_samples - 3000)
    with torch.no_grad():
        a, b = model(x), model(changed)
    _, last_input = model.input_span(0)
    # outputs whose inputs end before sample 3000 are untouched (output index = sample - 512)
    first_changed = next(i for i in range(model.output_samples) if model.input_span(i)[1] >= 3000)
    assert first_changed > 0 and last_input < model.context_samples
    assert torch.equal(a[..., :first_changed], b[..., :first_changed])
    assert not torch.equal(a, b)


def test_a_causal_models_input_span_is_what_gradients_measure():
    """At the samples where a frame starts, ends or is centred too: the periodic Hann window
    is zero at a frame's first sample, which the derived span once missed by a hop."""
    model = small(bidirectional=False)
    aligned = [i for i in range(model.output_samples) if (model.output_start + i + model.n_fft // 2) % model.hop in (0, 1, model.hop - 1)]
    for index in aligned[:6] + [model.output_samples // 2, model.output_samples - 1]:
        assert measure_input_span(model, index) == model.input_span(index), index


@pytest.mark.parametrize("convolutions", [{}, ENSEMBLE], ids=["dense", "ensemble"])
def test_separation_streams_exactly_as_offline(convolutions):
    model = small(**convolutions)
    audio = (0.1 * np.random.default_rng(0).standard_normal((2, 20000))).astype(np.float32)
    separator = Separator(model, batch_size=2)
    offline = separator.separate(audio, 44100)
    assert set(offline) == {"vocals", "accompaniment"}
    assert np.allclose(offline["vocals"] + offline["accompaniment"], audio, atol=1e-5)
    stream = StreamingSeparator(separator, 44100, 2)
    blocks = [stream.push(audio[:, i : i + 700]) for i in range(0, audio.shape[1], 700)] + [stream.flush()]
    streamed = np.concatenate(blocks, axis=-1)[..., stream.latency : stream.latency + audio.shape[1]]
    assert np.abs(streamed[0] - offline["vocals"]).max() < 1e-5


def test_mono_input_is_separated_by_a_stereo_model():
    model = small()
    audio = (0.1 * np.random.default_rng(1).standard_normal(9000)).astype(np.float32)
    out = Separator(model).separate(audio, 22050)
    assert out["vocals"].shape == audio.shape
    assert np.allclose(out["vocals"] + out["accompaniment"], audio, atol=1e-5)


def test_the_onnx_backend_separates_like_torch():
    model = small()
    audio = (0.1 * np.random.default_rng(2).standard_normal((2, 12000))).astype(np.float32)
    torch_out = Separator(model, backend="torch").separate(audio, 22050)
    onnx_out = Separator(model, backend="onnx").separate(audio, 22050)
    assert np.abs(torch_out["vocals"] - onnx_out["vocals"]).max() < 1e-4


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(context_samples=4000), "multiple of hop"),
        (dict(bands=300), "bands"),
        (dict(output_start=4000, output_samples=200), "not within the context"),
        (dict(hidden=15), "hidden"),
        (dict(dropout=1.0), "dropout"),
        (dict(frequency_channels=[4] * 6), "halve"),  # 48 bands halve 4 times, not 5
        (dict(frequency_channels=[4, 8], time_kernel=2), "odd"),
        (dict(frequency_channels=[4, 8], time_kernel=3, bidirectional=False), "causal"),
        (dict(time_kernel=3), "frequency_channels"),
        (dict(dense_too=True), "frequency_channels"),
        (dict(frequency_channels=[0, 8]), "positive whole numbers"),
        (dict(frequency_channels=[4.5]), "positive whole numbers"),
        (dict(members=[{}]), "at least two members"),
        (dict(members=[{}, {"hop": 32}]), "member 2: unknown network arguments hop"),
        (dict(members=[{}, {"hidden": 15}]), "member 2: hidden 15"),
        (dict(members=[{}, {"hidden": "16"}]), "member 2: hidden '16' is not a whole number"),
        (dict(members=[{}, {"dense_too": 1}]), "member 2: dense_too 1 is not true or false"),
        (dict(members=[{}, {"hidden": True}]), "member 2: hidden True is not a whole number"),
        (dict(members=[{}, {"frequency_channels": 8}]), "member 2: frequency_channels 8 is not a list"),
        (dict(members=[{}, 3]), "member 2 is not a table"),
        (dict(members=[{}, {}], bidirectional=False), "bidirectional"),
    ],
)
def test_bad_arguments(overrides, message):
    with pytest.raises(ValueError, match=message):
        small(**overrides)


def test_the_sparse_band_expansion_is_the_interpolation_matrix():
    model = small()
    values = torch.randn(3, 5, model.bands)
    dense = values @ torch.from_numpy(interpolation_matrix(model.bins, model.bands, SMALL["full_resolution_bins"]))
    assert torch.allclose(model.expand_bands(values), dense, atol=1e-6)


def test_the_wiener_benchmark_masks_as_the_model_does():
    # experiments/wiener.py separates whole clips with the model's masks (0 iterations) or
    # norbert's filter on them; without the filter it must be the model's own separation
    benchmark = load_script("experiments/wiener.py")
    model = small(output_start=0, output_samples=None)
    mixture = 0.1 * torch.randn(2, model.context_samples)
    with torch.no_grad():
        expected = model(mixture[None])[0].numpy()
    stems = benchmark.separate(model, mixture.numpy(), model.sample_rate, 0)
    for j, name in enumerate(model.sources):
        assert np.abs(stems[name] - expected[j]).max() < 1e-5
    pytest.importorskip("norbert")
    filtered = benchmark.separate(model, mixture.numpy(), model.sample_rate, 1)
    assert np.abs(filtered["vocals"] + filtered["accompaniment"] - mixture.numpy()).max() < 1e-4


class SilentRecurrence(torch.nn.Module):
    """A recurrent core that outputs zeros: what reaches the masks from other frames then
    came through the band convolutions."""

    def forward(self, features, state=None):
        return torch.zeros_like(features), state


def test_band_convolutions_with_a_time_kernel_see_the_neighbouring_frames_only():
    model = small(**BAND_CONVOLUTIONS, layers=1, bidirectional=True)
    magnitude = torch.rand(1, 2, model.bins, model.frames)
    changed = magnitude.clone()
    changed[..., 30] += 1.0
    model.recurrent = SilentRecurrence()  # only the convolutions spread a change over frames
    with torch.no_grad():
        difference = (model.masks(magnitude) - model.masks(changed)).abs().amax(dim=(0, 1, 2, 3))
    # three frames a layer, three layers: up to three frames either side
    assert (difference[27:34] > 0).any() and torch.all(difference[:27] == 0) and torch.all(difference[34:] == 0)


def test_both_paths_hold_the_dense_and_the_convolutional_layers():
    dense, convolutional, both = small(), small(**BAND_CONVOLUTIONS), small(**BOTH_PATHS)
    names = {name.split(".")[0] for name, _ in both.named_parameters()}
    assert {"encode", "mask_logits", "convolutions"} <= names
    assert "convolutions" not in {n.split(".")[0] for n, _ in dense.named_parameters()}
    assert "encode" not in {n.split(".")[0] for n, _ in convolutional.named_parameters()}
    extra = count_parameters(both) - count_parameters(convolutional)
    assert extra == count_parameters(dense.encode) + count_parameters(dense.mask_logits)


def test_an_ensemble_takes_its_network_from_its_members_only():
    with pytest.raises(ValueError, match="not hidden"):
        SpectralMaskNet(context_samples=4096, n_fft=256, hop=64, hidden=32, members=[{}, {}])


def test_an_ensemble_averages_its_members_masks_and_stems():
    dense, convolutional = small(), small(**BAND_CONVOLUTIONS)
    ensemble = ensemble_of([dense, convolutional])
    assert ensemble.config["members"] == [
        {key: dense.config[key] for key in ("bands", "full_resolution_bins", "hidden", "layers")},
        {key: convolutional.config[key] for key in ("bands", "full_resolution_bins", "hidden", "layers", "frequency_channels", "time_kernel")},
    ]  # fmt: skip
    assert count_parameters(ensemble) == count_parameters(dense) + count_parameters(convolutional)
    magnitude = torch.rand(2, 2, ensemble.bins, ensemble.frames) * 3
    x = 0.1 * torch.randn(2, 2, ensemble.context_samples)
    with torch.no_grad():
        assert torch.allclose(ensemble.masks(magnitude), (dense.masks(magnitude) + convolutional.masks(magnitude)) / 2, atol=1e-6)
        assert torch.allclose(ensemble(x), (dense(x) + convolutional(x)) / 2, atol=1e-5)
        # an ensemble among the models adds its members
        assert len(ensemble_of([ensemble, small(hidden=8)]).members) == 3
    with pytest.raises(ValueError, match="state"):
        ensemble.masks_and_state(magnitude, torch.zeros(4, 2, 8))


def test_an_ensemble_needs_models_that_share_the_stft_and_sources():
    with pytest.raises(ValueError, match="n_fft, hop"):
        ensemble_of([small(), small(n_fft=512, hop=128)])
    with pytest.raises(ValueError, match="sources"):
        ensemble_of([small(), small(("vocals", "drums", "bass", "other"))])
    with pytest.raises(ValueError, match="at least two"):
        ensemble_of([small()])


def test_the_stft_bases_of_the_export_are_built_only_when_exporting(tmp_path):
    model = small()
    assert "_conv_stft" not in model.__dict__ and not any("analysis" in name for name, _ in model.named_buffers())
    export_onnx(model, tmp_path / "s.onnx")
    assert model.__dict__["_conv_stft"].length == model.context_samples
    assert set(model.state_dict()) == set(small().state_dict())  # nothing of it in the checkpoint


def test_lightsep_ensemble_writes_a_checkpoint_that_separates_as_the_mean(tmp_path, capsys):
    import subprocess
    import sys

    from lightsep.cli import main

    dense, convolutional = small(), small(**BAND_CONVOLUTIONS)
    for model, name in ((dense, "a.pt"), (convolutional, "b.pt")):
        model.name = "spectral-small"
        save_checkpoint(model, tmp_path / name, {"run": name})
    out = tmp_path / "ensemble.pt"
    assert main(["ensemble", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "-o", str(out)]) == 0
    assert "the mean of 2 networks' masks" in capsys.readouterr().out
    loaded = load_checkpoint(out)
    assert [entry["metadata"] for entry in loaded.metadata["ensemble_of"]] == [{"run": "a.pt"}, {"run": "b.pt"}]
    assert loaded.name == "spectral-small"  # the first model's, unless --name says
    named = tmp_path / "named.pt"
    assert main(["ensemble", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "-o", str(named), "--name", "spectral-2stem-ensemble"]) == 0
    assert load_checkpoint(named).name == "spectral-2stem-ensemble"
    x = 0.1 * torch.randn(1, 2, dense.context_samples)
    with torch.no_grad():
        assert torch.allclose(loaded(x), (dense(x) + convolutional(x)) / 2, atol=1e-5)
    # an existing output, and models that do not join: one line each, rc 2, nothing written
    save_checkpoint(small(n_fft=512, hop=128), tmp_path / "c.pt")
    for args, message in (([str(tmp_path / "a.pt"), str(tmp_path / "b.pt")], "exists"),
                          ([str(tmp_path / "a.pt"), str(tmp_path / "c.pt")], "differs from the first in n_fft, hop"),
                          ([str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--name", "../up"], "not a plain name")):  # fmt: skip
        target = out if message == "exists" else tmp_path / "other.pt"
        result = subprocess.run([sys.executable, "-m", "lightsep.cli", "ensemble", *args, "-o", str(target)], capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (tmp_path / "other.pt").exists()


def test_the_ensemble_preset_is_the_dense_preset_beside_its_convolution_member():
    from lightsep.models.registry import SPECTRAL_CONVOLUTION_MEMBER

    ensemble, dense = build_model("spectral-2stem-ensemble"), build_model("spectral-2stem")
    member = build_model("spectral-2stem", **SPECTRAL_CONVOLUTION_MEMBER)
    assert ensemble.members[0].config == dense.config and ensemble.members[1].config == member.config
    assert count_parameters(ensemble) == count_parameters(dense) + count_parameters(member)
    assert {k: v for k, v in ensemble.config.items() if k != "members"} == {
        k: v for k, v in dense.config.items() if k not in ("bands", "full_resolution_bins", "hidden", "layers")
    }


def test_the_mask_combination_benchmark_changes_only_how_the_members_masks_are_combined():
    # experiments/mask_combination.py: its "mean" must be the ensemble's own separation, and
    # the other ways must change the stems while they still sum to the mixture
    benchmark = load_script("experiments/mask_combination.py")
    model = small(**ENSEMBLE)
    mixture = 0.1 * torch.randn(1, 2, model.context_samples)
    with torch.no_grad():
        expected = model(mixture)
        benchmark.combine_with(model, benchmark.VARIANTS["mean"])
        assert torch.allclose(model(mixture), expected, atol=1e-6)
        for variant in ("weights 0.6/0.4", "logit mean", "p 0.7", "p 1.5"):
            benchmark.combine_with(model, benchmark.VARIANTS[variant])
            stems = model(mixture)
            assert (stems - expected).abs().max() > 1e-5, variant
            window = mixture[..., model.output_start : model.output_start + model.output_samples]
            assert torch.allclose(stems.sum(dim=1), window, atol=1e-5), variant


def test_full_band_of_keeps_the_weights_and_continues_the_top_band_upward():
    from lightsep.models.spectral import SpectralMaskNet, full_band_of

    small = {"bands": 32, "full_resolution_bins": 8}
    narrow = SpectralMaskNet(n_fft=256, hop=64, context_samples=2048,
                             members=[{**small, "hidden": 16}, {**small, "hidden": 8, "frequency_channels": [4, 4]}])  # fmt: skip
    wide = full_band_of(narrow, high_bands=4)
    assert (wide.sample_rate, wide.n_fft, wide.hop, wide.context_samples) == (44100, 512, 128, 4096)
    narrow_state = narrow.state_dict()
    for key, value in wide.state_dict().items():
        if ".high_logits." in key:
            assert not value.any()  # the corrections start at zero
        elif ".high_norm." in key or key.endswith("feature_gain"):
            continue
        else:
            assert torch.equal(value, narrow_state[key])
    member = wide.members[0]
    assert member.low_bins == 129 and member.total_bands == 36 and member.bins == 257
    magnitude = torch.rand(1, 2, member.bins, 9)
    logits, _ = member._mask_logits(magnitude)  # (batch, frames, sources, channels, bands)
    assert logits.shape[-1] == 36
    torch.testing.assert_close(logits[..., 32:], logits[..., 31:32].expand_as(logits[..., 32:]))
    masks = wide.masks(magnitude)
    torch.testing.assert_close(masks.sum(dim=1), torch.ones_like(masks.sum(dim=1)))
    with pytest.raises(ValueError, match="bidirectional"):
        SpectralMaskNet(n_fft=256, hop=64, context_samples=2048, bands=32, full_resolution_bins=8, sample_rate=44100,
                        high_bands=4, bidirectional=False)  # fmt: skip


def small_full_band_pair(**extra):
    """A small 22.05 kHz ensemble and :func:`full_band_of` it (4 high bands)."""
    from lightsep.models.spectral import SpectralMaskNet, full_band_of

    small = {"bands": 32, "full_resolution_bins": 8}
    torch.manual_seed(0)
    narrow = SpectralMaskNet(n_fft=256, hop=64, context_samples=2048, members=[{**small, "hidden": 16}, {**small, "hidden": 8}])
    return narrow.eval(), full_band_of(narrow, high_bands=4, **extra)


def test_a_full_band_model_feeds_its_low_bands_what_the_narrow_model_saw_behind_the_resampler():
    import soxr

    from lightsep.models.spectral import resampler_response

    narrow, wide = small_full_band_pair()
    response = resampler_response(44100, 22050, 256)
    assert response.shape == (129,) and abs(response[10] - 1) < 0.01 and response[-1] < 0.01  # flat, then the roll-off
    for member in wide.members:
        torch.testing.assert_close(member.feature_gain[:129], torch.from_numpy(response.astype(np.float32)))
        assert torch.equal(member.feature_gain[129:], torch.ones(128))
    noise = np.random.default_rng(1).standard_normal((2, 44100)).astype(np.float32)
    coloured = np.cumsum(noise, axis=1) * 0.01 + noise  # more below than above, as music is
    resampled = soxr.resample(coloured.T, 44100, 22050, "HQ").T.astype(np.float32)

    def features(model, audio):
        spectrum = torch.stft(torch.from_numpy(np.ascontiguousarray(audio)), model.n_fft, model.hop, window=model.window,
                              center=True, return_complex=True)  # fmt: skip
        member = model.members[0]
        return member.band_features(spectrum.abs()[None])[0].reshape(spectrum.shape[-1], 2, -1)

    before, after = features(narrow, resampled)[4:-4], features(wide, coloured)[4:-4, :, :32]
    frames = min(len(before), len(after))
    gap = (before[:frames] - after[:frames]).abs().mean(dim=(0, 1))  # per band
    assert gap.max() < 0.1, gap
    # without the roll-off the top bands would see what the narrow model never saw
    plain = wide.members[0].feature_gain.clone()
    wide.members[0].feature_gain.fill_(1.0)
    assert (before[:frames] - features(wide, coloured)[4 : 4 + frames, :, :32]).abs().mean(dim=(0, 1)).max() > 0.5
    wide.members[0].feature_gain.copy_(plain)


def test_the_low_bands_pool_only_the_bins_below_11_khz():
    _, wide = small_full_band_pair()
    member = wide.members[0]
    magnitude = torch.rand(1, 2, member.bins, 5)
    louder = magnitude.clone()
    louder[:, :, member.low_bins :] *= 10
    base, changed = member.band_features(magnitude), member.band_features(louder)
    shape = (1, 5, 2, member.total_bands)
    base, changed = base.reshape(shape), changed.reshape(shape)
    assert torch.equal(base[..., :32], changed[..., :32])
    assert (changed[..., 32:] - base[..., 32:]).abs().min() > 1.0


def test_a_high_band_network_starts_even_over_the_sources_and_leaves_the_low_band(tmp_path):
    from lightsep.checkpoint import load_checkpoint, save_checkpoint
    from lightsep.models.spectral import SpectralMaskNet

    _, wide = small_full_band_pair()
    config = {**wide.config, "high_hidden": 8}
    torch.manual_seed(1)
    headed = SpectralMaskNet(**config).eval()
    missing, unexpected = headed.load_state_dict(wide.state_dict(), strict=False)
    assert all(".high_logits." in key for key in missing + unexpected) and missing
    magnitude = torch.rand(1, 2, headed.bins, 9)
    masks, plain = headed.masks(magnitude), wide.masks(magnitude)  # (batch, sources, channels, bins, frames)
    low_bins = headed.members[0].low_bins
    torch.testing.assert_close(masks[..., :low_bins, :], plain[..., :low_bins, :])
    # from the first high band's centre up every mask starts at one half, whatever the input
    top = int(torch.nonzero(headed.members[0].expand_lower == 32)[0]) - 1
    torch.testing.assert_close(masks[..., top + 1 :, :], torch.full_like(masks[..., top + 1 :, :], 0.5))
    with torch.no_grad():
        for member in headed.members:
            member.high_logits[2].bias.normal_()
    assert not torch.allclose(headed.masks(magnitude)[..., top + 1 :, :], masks[..., top + 1 :, :])
    path = save_checkpoint(headed, tmp_path / "headed.pt")
    loaded = load_checkpoint(path)
    assert loaded.config["high_hidden"] == 8 and loaded.config["narrow_features"]
    torch.testing.assert_close(loaded.masks(magnitude), headed.masks(magnitude))
    for bad, message in [({"high_hidden": 8, "high_bands": 0, "narrow_features": False}, "high_hidden"), ({"narrow_features": 1}, "narrow_features"), ({"narrow_features": True, "high_bands": 0, "high_hidden": 0}, "narrow_features")]:
        with pytest.raises(ValueError, match=message):
            SpectralMaskNet(**{**config, **bad})
