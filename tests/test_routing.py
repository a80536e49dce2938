"""Routing small faces to a small-face network: the gate reads detail, its fit, the saved model."""

import json

import cv2
import keras
import numpy as np
import pytest

from fer_core import EmotionClassifier
from fer_core.classifier import capped_tta, tta_views
from fer_core.ensemble import _networks, save_ensemble, save_routed
from fer_core.errors import InvalidInputError, ModelNotFoundError
from fer_core.labels import CLASSES
from fer_core.lowres import degrade
from fer_core.models import build_model
from fer_core.routing import (
    SKIP_SHARE,
    SmallFaceRouter,
    detail_bands,
    fit_gate,
    mix_by_share,
    route_small_faces,
)
from fer_core.training import TrainConfig, load_initial_weights


@pytest.fixture(scope="module")
def photo_faces() -> np.ndarray:
    """48 px crops of a real photo at random places: real edges and textures, (N, 48, 48, 1)."""
    from skimage.data import astronaut

    gray = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(0)
    corners = rng.integers(0, gray.shape[0] - 96, (240, 2))
    crops = [
        cv2.resize(gray[y : y + 96, x : x + 96], (48, 48), interpolation=cv2.INTER_AREA)
        for y, x in corners
    ]
    return np.stack(crops)[..., None]


def _bands(faces: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(detail_bands(faces.astype(np.float32) / 255))


def _folder(folder, model: keras.Model, split_seed: int = 1337, inference: dict | None = None):
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(list(CLASSES)))
    config = {"config": {"arch": "vgg-tiny", "val_fraction": 0.25, "split_seed": split_seed}}
    if inference is not None:
        config["inference"] = inference
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _network(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_model("vgg-tiny")


def test_a_small_face_keeps_less_fine_detail(photo_faces):
    sharp = _bands(photo_faces)
    for size in (24, 16, 12):
        small = _bands(degrade(photo_faces, size))
        assert (small[:, 0] < sharp[:, 0]).mean() > 0.95, size  # the finest band empties
    assert np.isfinite(_bands(np.zeros((2, 48, 48, 1), np.uint8))).all()  # a flat crop too


def test_the_classifiers_gate_computes_the_graphs_numbers(photo_faces):
    faces = np.concatenate([photo_faces, degrade(photo_faces, 16)]).astype(np.float32) / 255
    router = SmallFaceRouter([1.0, -0.5, 0.3, 0.2], 2.0)
    graph = keras.ops.convert_to_numpy(router.general_share(faces))
    np.testing.assert_allclose(router.shares(faces), graph, atol=1e-4)
    flat = np.zeros((2, 48, 48, 1), np.float32)
    np.testing.assert_allclose(router.shares(flat), router.general_share(flat), atol=1e-4)


def test_the_fitted_gate_sends_each_face_to_the_network_that_reads_it(photo_faces):
    sizes = [48, 36, 12]
    shown = np.concatenate([degrade(photo_faces, s) for s in sizes])
    small = np.repeat(np.array(sizes) <= 12, len(photo_faces))
    labels = np.random.default_rng(1).integers(0, 7, len(shown))
    right = np.full((len(shown), 7), 0.1 / 6)
    right[np.arange(len(shown)), labels] = 0.9
    wrong = np.roll(right, 1, axis=1)
    general = np.where(small[:, None], wrong, right)  # reads sharp faces only
    small_net = np.where(small[:, None], right, wrong)  # reads small faces only
    weights, bias = fit_gate(_bands(shown), general, small_net, labels)
    router = SmallFaceRouter(weights, bias)
    share = keras.ops.convert_to_numpy(router.general_share(shown.astype(np.float32) / 255))
    assert ((share > 0.5) != small).mean() > 0.9  # a flat patch holds no detail at any size
    assert np.median(share[~small]) - np.median(share[small]) > 0.5


def test_each_network_runs_only_on_the_faces_it_has_a_say_in():
    faces = np.arange(6, dtype=np.float32)[:, None]
    share = np.array([0.0, 0.005, 0.3, 0.5, 0.995, 1.0])
    seen = {}

    def network(name: str, answer: float):
        def run(batch: np.ndarray) -> np.ndarray:
            seen[name] = batch[:, 0].tolist()
            return np.full((len(batch), 2), answer, np.float32)

        return run

    mixed = mix_by_share(faces, share, network("general", 1.0), network("small", 0.0))
    assert seen == {"general": [2.0, 3.0, 4.0, 5.0], "small": [0.0, 1.0, 2.0, 3.0]}
    np.testing.assert_allclose(mixed[:, 0], [0.0, 0.0, 0.3, 0.5, 1.0, 1.0])
    mix_by_share(faces[4:], share[4:], network("general", 1.0), network("never", 0.0))
    assert "never" not in seen
    with pytest.raises(ValueError, match="at least one face"):
        mix_by_share(faces[:0], share[:0], network("general", 1.0), network("small", 0.0))


@pytest.mark.parametrize("small_tta", [None, "flip"])
def test_a_routed_model_mixes_its_networks_and_saves_loads_and_exports(
    photo_faces, tmp_path, small_tta
):
    general, small = _network(1), _network(2)
    weights, bias = [1.0, -0.5, 0.3, 0.2], 2.0
    model = route_small_faces(general, small, weights, bias, small_tta)
    faces = np.concatenate([photo_faces[:4], degrade(photo_faces[:4], 12)]).astype(np.float32)
    faces /= 255

    def small_answer(batch: np.ndarray) -> np.ndarray:
        if small_tta is None:
            return small.predict_on_batch(batch)
        mirrored = np.ascontiguousarray(batch[:, :, ::-1])
        return (small.predict_on_batch(batch) + small.predict_on_batch(mirrored)) / 2

    share = keras.ops.convert_to_numpy(SmallFaceRouter(weights, bias).general_share(faces))
    in_graph = share[:, None] * general.predict_on_batch(faces)
    in_graph += (1 - share[:, None]) * small_answer(faces)
    np.testing.assert_allclose(model.predict_on_batch(faces), in_graph, atol=1e-6)
    expected = mix_by_share(faces, share, general.predict_on_batch, small_answer)
    np.testing.assert_allclose(expected, in_graph, atol=SKIP_SHARE + 1e-6)

    _folder(tmp_path / "routed", model)
    clf = EmotionClassifier.load(tmp_path / "routed", precision="float32")
    np.testing.assert_allclose(clf.predict_proba(faces, tta=None), expected, atol=1e-5)
    half = EmotionClassifier.load(tmp_path / "routed", precision="bfloat16")
    assert half.model.layers[-1].compute_dtype == "float32"  # the gate reads detail in float32
    assert half.precision == "bfloat16"
    np.testing.assert_allclose(half.predict_proba(faces, tta=None), expected, atol=0.05)

    from fer_core.litert import export_model_litert

    export_model_litert(tmp_path / "routed" / "model.keras", "float32")
    config = json.loads((tmp_path / "routed" / "config.json").read_text())
    assert config["litert"]["small_file"] == "small.tflite"
    on_litert = EmotionClassifier.load(tmp_path / "routed", runtime="litert")
    assert on_litert.small_runner is not None
    np.testing.assert_allclose(on_litert.predict_proba(faces, tta=None), expected, atol=1e-4)

    del config["litert"]["small_file"]  # as exported before the networks ran one by one
    (tmp_path / "routed" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelNotFoundError, match="whole routed model"):
        EmotionClassifier.load(tmp_path / "routed", runtime="litert")
    with pytest.warns(UserWarning, match="running on Keras"):
        assert EmotionClassifier.load(tmp_path / "routed").runtime == "keras"


def test_a_part_reads_no_more_views_than_its_cap():
    assert capped_tta("tencrop", "flip") == "flip"
    assert capped_tta("flip", "flip") == "flip"
    assert capped_tta(None, "flip") is None
    assert capped_tta("flip", "tencrop") == "flip"
    assert capped_tta("tencrop", None) == "tencrop"
    with pytest.raises(InvalidInputError, match="tta must be"):
        capped_tta("five-crop", "flip")


def test_the_small_face_part_reads_its_own_views(photo_faces, tmp_path):
    general, small = _network(1), _network(2)
    for network in (general, small):  # untrained answers are near uniform: make them differ
        dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)][-1]
        dense.kernel.assign(dense.kernel * 50.0)
    weights, bias = [1.0, -0.5, 0.3, 0.2], 2.0
    model = route_small_faces(general, small, weights, bias, None)
    inference = {"tta": "tencrop", "small_part_tta": "flip"}
    clf = EmotionClassifier.load(
        _folder(tmp_path / "routed", model, inference=inference), precision="float32"
    )
    assert clf.default_tta == "tencrop" and clf.small_part_tta == "flip"
    faces = np.concatenate([photo_faces[:4], degrade(photo_faces[:4], 12)]).astype(np.float32)
    faces /= 255
    share = keras.ops.convert_to_numpy(SmallFaceRouter(weights, bias).general_share(faces))

    def views_mean(network: keras.Model, tta: str | None):
        return lambda batch: np.mean(
            [network.predict_on_batch(view) for view in tta_views(batch, tta)], axis=0
        )

    for tta, small_tta in (("model", "flip"), ("tencrop", "flip"), ("flip", "flip"), (None, None)):
        expected = mix_by_share(
            faces,
            share,
            views_mean(general, clf.default_tta if tta == "model" else tta),
            views_mean(small, small_tta),
        )
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(clf.predict_proba(faces, tta=tta), expected, atol=1e-5)
    # Without the cap the small-face part reads the ten crops as well, a different answer.
    uncapped = EmotionClassifier(model, metadata={"inference": {"tta": "tencrop"}})
    assert np.abs(uncapped.predict_proba(faces) - clf.predict_proba(faces)).max() > 1e-3


@pytest.mark.parametrize("small_tta", [None, "flip"])
def test_a_routed_models_networks_are_its_general_ones_then_the_small_one(tmp_path, small_tta):
    pair = save_ensemble(
        [_folder(tmp_path / "a", _network(1)), _folder(tmp_path / "b", _network(2))],
        tmp_path / "pair",
    )
    small = _network(3)
    routed = route_small_faces(keras.models.load_model(pair), small, [0.0] * 4, 0.0, small_tta)
    assert len(_networks(routed)) == 3
    _folder(tmp_path / "routed", routed)
    start = build_model("vgg-tiny")
    config = TrainConfig(
        data="unused",
        out="unused",
        arch="vgg-tiny",
        init_from=str(tmp_path / "routed"),
        init_member=2,
        val_fraction=0.25,
    )
    load_initial_weights(start, config)
    faces = np.random.default_rng(4).random((3, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(
        start.predict_on_batch(faces), small.predict_on_batch(faces), atol=1e-6
    )


def test_save_routed_fits_the_gate_on_the_validation_split(tmp_path, folder_dataset):
    data = folder_dataset(per_class=8)
    general = _folder(tmp_path / "general", _network(1))
    small = save_ensemble(
        [_folder(tmp_path / "small-a", _network(2)), _folder(tmp_path / "small-b", _network(3))],
        tmp_path / "small",
    )
    path = save_routed(general, small, tmp_path / "routed", data, tta="flip", draws=2)
    saved = json.loads((path.parent / "config.json").read_text())
    assert [m["model"] for m in saved["members"]] == ["general", "small-a", "small-b"]
    assert [m.get("reads") for m in saved["members"]] == [None, "small faces", "small faces"]
    assert saved["config"] == {"arch": "routed", "val_fraction": 0.25, "split_seed": 1337}
    routing = saved["routing"]
    assert len(routing["weights"]) == 4 and "2 sizes drawn from 12-40 px" in routing["fitted_on"]
    assert routing["small_tta"] == "flip"
    assert "averaged over the flip views" in routing["fitted_on"]
    losses = routing["log_loss"]
    assert losses["routed"] <= min(losses["general"], losses["small"]) + 0.01
    # The gate is fitted on the answers the model will give: over its own views.
    one_view = save_routed(general, small, tmp_path / "one-view", data, draws=2)
    one_view_losses = json.loads((one_view.parent / "config.json").read_text())["routing"]
    assert one_view_losses["log_loss"]["general"] != pytest.approx(losses["general"], abs=1e-6)
    clf = EmotionClassifier.load(path.parent)
    assert clf.default_tta == "flip" and clf.predict_proba(
        np.zeros((1, 48, 48), np.uint8)
    ).shape == (
        1,
        7,
    )

    # A capped small-face part: the gate is fitted on its flip answers, the rest's ten crops.
    capped = save_routed(
        general, small, tmp_path / "capped", data, "tencrop", draws=2, small_part_tta="flip"
    )
    capped_config = json.loads((capped.parent / "config.json").read_text())
    assert capped_config["inference"] == {"tta": "tencrop", "small_part_tta": "flip"}
    assert "(flip for the small-face part)" in capped_config["routing"]["fitted_on"]
    capped_losses = capped_config["routing"]["log_loss"]
    assert capped_losses["small"] == pytest.approx(losses["small"], abs=1e-5)
    assert capped_losses["general"] != pytest.approx(losses["general"], abs=1e-6)
    assert EmotionClassifier.load(capped.parent).small_part_tta == "flip"

    other = _folder(tmp_path / "other", _network(3), split_seed=7)
    with pytest.raises(InvalidInputError, match="different splits"):
        save_routed(general, other, tmp_path / "bad", data)
    assert not (tmp_path / "bad").exists()
