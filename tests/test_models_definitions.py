"""The networks are what the documents and the issue say, and their int8 forms run identically in
TFLM and TFLite's reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from model_compression.beat_features import CHANNELS, RR_FEATURES, SAMPLES  # noqa: E402
from model_compression.models.beat_net import BEAT_CLASSES, build_beat_net  # noqa: E402
from model_compression.models.macs import count_macs  # noqa: E402
from model_compression.models.resnet import STUDENT, TEACHER, build_resnet, filters_of  # noqa: E402
from model_compression.models.scnn import SCNN_LAYERS, build_scnn, freeze_features  # noqa: E402


def test_scnn_follows_the_patent_table() -> None:
    model = build_scnn(5000, 12)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling1D)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(convs) == 15 and len(pools) == 15 and [d.units for d in dense] == [10, 1]
    previous = 12
    for conv, (filters, length) in zip(convs, SCNN_LAYERS, strict=True):
        assert tuple(conv.kernel.shape) == (length, previous, filters)
        assert conv.strides == (1,)
        previous = filters
    # Layer 7 takes the 8 channels of layer 6, not the 5 the document prints.
    assert tuple(convs[6].kernel.shape) == (11, 8, 5)
    assert all(p.pool_size == (2,) for p in pools)
    assert dense[-1].activation.__name__ == "sigmoid"
    assert model.output.shape[1:] == (1,)


def test_scnn_cost_at_the_patents_rate_and_ours() -> None:
    # The figure: about 44 M multiply-accumulates per 10-s window at 500 Hz.
    assert 43e6 < count_macs(build_scnn(5000, 1)) < 45e6
    assert count_macs(build_scnn(1250, 1)) < count_macs(build_scnn(5000, 1)) / 3.9


def test_stage_two_trains_only_the_dense_layers() -> None:
    model = build_scnn(1250, 1)
    freeze_features(model)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"dense_10", "vt_probability"}


def test_resnet_teacher_is_the_papers_shape() -> None:
    model = build_resnet(1250, 4, TEACHER)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    assert len(convs) == 1 + 2 * 16  # input convolution and two per residual block
    assert {c.kernel_size[0] for c in convs} == {16}
    assert [filters_of(b, TEACHER) for b in (0, 3, 4, 8, 12, 15)] == [32, 32, 64, 128, 256, 256]
    strided = [c for c in convs if c.strides == (2,)]
    assert len(strided) == 8  # every other block subsamples
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.2 for layer in model.layers)


def test_student_is_much_smaller_than_teacher() -> None:
    teacher = build_resnet(1250, 4, TEACHER)
    student = build_resnet(1250, 4, STUDENT)
    assert student.count_params() < teacher.count_params() / 20
    assert count_macs(student) < count_macs(teacher) / 10


def test_beat_net_inputs_and_classes() -> None:
    model = build_beat_net()
    assert [tuple(i.shape[1:]) for i in model.inputs] == [(SAMPLES, CHANNELS), (len(RR_FEATURES),)]
    assert model.output.shape[1:] == (len(BEAT_CLASSES),)
    assert count_macs(model) < 200_000  # cheap enough for every beat


@pytest.fixture(scope="module")
def beat_int8() -> tuple[bytes, list[np.ndarray]]:
    from model_compression.training.int8_export import representative_rows, to_int8

    keras.utils.set_random_seed(1)
    model = build_beat_net(batch_size=1)
    rng = np.random.default_rng(0)
    inputs = [
        rng.normal(0, 1, (64, SAMPLES, CHANNELS)).astype(np.float32),
        rng.uniform(0, 2, (64, len(RR_FEATURES))).astype(np.float32),
    ]
    return to_int8(model, representative_rows(inputs, 32)), inputs


def test_tflm_and_tflite_reference_kernels_agree_bit_for_bit(beat_int8: tuple[bytes, list[np.ndarray]]) -> None:
    from model_compression.training.tflm import Int8Model, reference_outputs

    model_bytes, inputs = beat_int8
    model = Int8Model(model_bytes)
    order = model.input_order([a.shape[1:] for a in inputs])
    tensors = [[model.quantize(inputs[src][row], dst) for dst, src in enumerate(order)] for row in range(16)]
    ours = np.stack([model.invoke_int8(t) for t in tensors])
    reference = reference_outputs(model_bytes, tensors)
    np.testing.assert_array_equal(ours, reference)
    assert len(np.unique(ours)) > 4  # not a constant output


def test_int8_close_to_float(beat_int8: tuple[bytes, list[np.ndarray]]) -> None:
    from model_compression.training.tflm import Int8Model

    model_bytes, inputs = beat_int8
    keras.utils.set_random_seed(1)
    float_model = build_beat_net(batch_size=1)
    want = float_model.predict([inputs[0][:16], inputs[1][:16]], verbose=0)
    got = Int8Model(model_bytes).predict([inputs[0][:16], inputs[1][:16]])
    assert np.abs(got - want).max() < 0.1 * np.abs(want).max() + 0.05


def test_macs_from_the_flatbuffer_match_the_keras_count(beat_int8: tuple[bytes, list[np.ndarray]]) -> None:
    from model_compression.footprint import tflite_macs

    assert tflite_macs(beat_int8[0]) == count_macs(build_beat_net(batch_size=1))


@pytest.mark.parametrize("network", ["scnn", "student"])
def test_window_networks_agree_bit_for_bit_in_tflm_and_reference_kernels(network: str) -> None:
    from model_compression.training.int8_export import representative_rows, to_int8
    from model_compression.training.tflm import Int8Model, reference_outputs

    keras.utils.set_random_seed(2)
    model = build_scnn(1250, 1, batch_size=1) if network == "scnn" else build_resnet(1250, 4, STUDENT, batch_size=1)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (24, 1250, 1)).astype(np.float32)
    model_bytes = to_int8(model, representative_rows([x], 16))
    tflm = Int8Model(model_bytes)
    tensors = [[tflm.quantize(x[i], 0)] for i in range(6)]
    ours = np.stack([tflm.invoke_int8(t) for t in tensors])
    np.testing.assert_array_equal(ours, reference_outputs(model_bytes, tensors))
