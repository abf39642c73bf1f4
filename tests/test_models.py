import pytest
import torch

from lightsep.analysis import count_parameters, measure_input_span, measure_receptive_field
from lightsep.models import PRESETS, build_model, list_models
from lightsep.models.waveunet import WaveUNet, context_shapes, linear_upsample

LIGHT_MODELS = [n for n in list_models() if not n.startswith("waveunet")]
WAVEUNETS = [n for n in list_models() if n.startswith("waveunet")]


@pytest.mark.parametrize("name", LIGHT_MODELS)
@pytest.mark.parametrize("batch", [1, 3])
def test_output_shapes_of_the_proposed_models(name, batch):
    model = build_model(name).eval()
    with torch.no_grad():
        y = model(torch.randn(batch, model.audio_channels, model.context_samples) * 0.1)
    assert y.shape == (batch, len(model.sources), model.audio_channels, model.output_samples)


@pytest.mark.parametrize("name", WAVEUNETS)
def test_output_shapes_of_wave_u_net(name):
    model = build_model(name).eval()
    with torch.no_grad():
        y = model(torch.randn(2, model.audio_channels, model.context_samples) * 0.1)
    assert y.shape == (2, len(model.sources), model.audio_channels, model.output_samples)


@pytest.mark.parametrize("name", [n for n in list_models() if build_model(n).difference_source is not None])
def test_difference_models_sum_to_the_mixture(name):
    model = build_model(name).eval()
    assert model.difference_source == model.sources[-1]
    x = torch.randn(2, model.audio_channels, model.context_samples) * 0.1
    with torch.no_grad():
        y = model(x)
    mixture = x[..., model.output_offset : model.output_offset + model.output_samples]
    torch.testing.assert_close(y.sum(dim=1), mixture, atol=1e-5, rtol=0)


def test_which_models_have_a_difference_source():
    direct = [n for n in list_models() if build_model(n).difference_source is None]
    assert direct == ["waveunet-m1", "mixture"]


def test_the_difference_source_is_the_last_one():
    assert build_model("proposed-2stem").sources == ("vocals", "accompaniment")
    assert build_model("proposed-4stem").sources == ("vocals", "drums", "bass", "other")
    # Wave-U-Net keeps the original code's order: its last (difference) source is vocals
    assert build_model("waveunet-m4").sources[-1] == "vocals"


def test_parameter_counts_of_table_2():
    for name in ("proposed-2stem", "proposed-4stem"):
        assert 800_000 <= count_parameters(build_model(name)) <= 900_000
    assert count_parameters(build_model("waveunet-m4")) == 10_263_390
    assert count_parameters(build_model("tiny")) < 10_000


def test_wave_u_net_context_shapes():
    assert context_shapes(16384, 12, 15, 5, 15, 1) == (147443, 16389)
    model = build_model("waveunet-m4")
    assert (model.context_samples, model.output_samples, model.audio_channels) == (147443, 16389, 2)
    assert build_model("waveunet-m1").context_samples == 16384


def test_wave_u_net_configurations():
    m1, m2, m5, m6 = (build_model(f"waveunet-m{i}") for i in (1, 2, 5, 6))
    assert m1.difference_source is None and len(m1.outputs) == 2
    assert m2.difference_source == "vocals" and len(m2.outputs) == 1
    assert m5.interpolation is not None and m1.interpolation is None
    assert m6.sources == ("bass", "drums", "other", "vocals") and len(m6.outputs) == 3
    # the learned interpolation adds one weight per channel and upsampling step
    assert count_parameters(m5) - count_parameters(build_model("waveunet-m4")) == 312 + 24 * sum(range(2, 13))


def test_linear_upsampling_matches_tensorflow_resize():
    x = torch.tensor([[[0.0, 2.0, 4.0, 10.0]]])
    assert linear_upsample(x, same=False).tolist() == [[[0.0, 1.0, 2.0, 3.0, 4.0, 7.0, 10.0]]]
    assert linear_upsample(x, same=True).tolist() == [[[0.0, 1.0, 2.0, 3.0, 4.0, 7.0, 10.0, 10.0]]]


def test_wave_u_net_decimates_by_dropping_samples():
    model = WaveUNet(num_layers=2, num_initial_filters=2, requested_output_samples=16).eval()
    seen = []
    model.down[1].register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    first = []
    model.down[0].register_forward_hook(lambda mod, inp, out: first.append(torch.nn.functional.leaky_relu(out, 0.2)))
    model(torch.randn(1, 1, 16))
    assert torch.equal(seen[0], first[0][..., ::2])


MEASURED_AT_FOUR_SAMPLES = [
    ("tiny", {}),
    ("proposed-2stem", {}),
    ("proposed-2stem", dict(aspp_pooling=False, attention=False)),
    ("ablation-c", dict(aspp_pooling=False, attention=False)),
    ("tiny", dict(aspp_pooling=False, attention=False)),
    ("waveunet-m2", {}),
    ("waveunet-m3", {}),
]


@pytest.mark.parametrize("name,overrides", MEASURED_AT_FOUR_SAMPLES)
def test_measured_receptive_field_matches_the_architecture(name, overrides):
    model = build_model(name, **overrides)
    n = model.output_samples
    for index in (0, n // 3, n // 2, n - 1):
        assert measure_input_span(model, index) == model.input_span(index)


@pytest.mark.parametrize("name", sorted(set(list_models()) - {name for name, overrides in MEASURED_AT_FOUR_SAMPLES if not overrides}))
def test_every_named_models_receptive_field_is_what_gradients_measure(name):
    """``lightsep info`` reports the derived receptive field (of the middle output sample);
    here it is measured for the named models that the test above does not cover."""
    model = build_model(name)
    assert measure_receptive_field(model) == model.receptive_field()


def test_proposed_receptive_field_is_the_context():
    model = build_model("proposed-2stem")
    assert measure_receptive_field(model) == model.receptive_field() == 16384 == model.target_field


def test_a_local_variant_has_a_smaller_receptive_field():
    model = build_model("proposed-2stem", aspp_pooling=False, attention=False)
    assert model.receptive_field() < model.context_samples


def test_unknown_model_and_bad_arguments():
    from lightsep.errors import UnknownModelError

    with pytest.raises(UnknownModelError, match="known models"):
        build_model("nope")
    with pytest.raises(UnknownModelError, match="bad arguments"):
        build_model("tiny", no_such_argument=1)
    with pytest.raises(ValueError, match="multiple of"):
        build_model("proposed-2stem", context_samples=1000)


def test_every_preset_is_described():
    assert all(preset.description for preset in PRESETS.values())
