"""The public EmotionClassifier API, on the model shipped in models/."""

import json
import shutil

import numpy as np
import pytest

from fer_core import EmotionClassifier
from fer_core.classifier import DEFAULT_MODEL, MODELS_DIR
from fer_core.errors import InvalidInputError, ModelNotFoundError
from fer_core.labels import CLASSES


@pytest.fixture(scope="module")
def clf() -> EmotionClassifier:
    return EmotionClassifier.load()


def test_default_model_is_the_shipped_one(clf):
    assert clf.classes == CLASSES
    same = EmotionClassifier.load(MODELS_DIR / DEFAULT_MODEL)
    assert same.classes == clf.classes
    by_name = EmotionClassifier.load(DEFAULT_MODEL)
    crop = np.random.default_rng(0).integers(0, 256, (1, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(by_name.predict_proba(crop), clf.predict_proba(crop), atol=1e-6)


@pytest.mark.parametrize(
    "faces",
    [
        np.random.default_rng(1).integers(0, 256, (5, 48, 48), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (5, 90, 70, 3), dtype=np.uint8),
        np.random.default_rng(3).random((5, 64, 64, 1), dtype=np.float32),
        [np.full((30, 40, 3), 128, np.uint8)] * 5,
    ],
    ids=["gray48-uint8", "bgr-any-size", "float-unit-range", "list-of-crops"],
)
def test_predict_proba_contract(clf, faces):
    probs = clf.predict_proba(faces)
    assert probs.shape == (5, 7) and probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_single_face_and_large_batch_agree(clf):
    faces = np.random.default_rng(4).integers(0, 256, (1000, 48, 48), dtype=np.uint8)
    many = clf.predict_proba(faces)
    assert many.shape == (1000, 7)
    np.testing.assert_allclose(clf.predict_proba(faces[:1]), many[:1], atol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(faces[-1:]), many[-1:], atol=1e-4)


def test_no_faces_gives_an_empty_result(clf):
    assert clf.predict_proba(np.empty((0, 48, 48), np.uint8)).shape == (0, 7)


def test_a_real_smiling_face_is_read_as_happy(clf, astronaut_face):
    probs = clf.predict_proba([astronaut_face])[0]
    assert clf.classes[int(probs.argmax())] == "happy"
    assert clf.predict([astronaut_face])[0] == "happy"


@pytest.mark.parametrize("tta", ["flip", "tencrop"])
def test_test_time_augmentation_keeps_the_contract(clf, astronaut_face, tta):
    probs = clf.predict_proba([astronaut_face, astronaut_face[:, ::-1]], tta=tta)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # Both TTAs use a mirror-symmetric set of views: a face and its mirror score the same.
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-5)
    single = clf.predict_proba([astronaut_face], tta=None)[0]
    assert not np.allclose(probs[0], single, atol=1e-6), "views change the answer"


def test_unknown_tta_is_rejected(clf, astronaut_face):
    with pytest.raises(InvalidInputError, match="tta"):
        clf.predict_proba([astronaut_face], tta="rotate")


def test_missing_model_names_what_is_shipped(tmp_path):
    with pytest.raises(ModelNotFoundError, match=DEFAULT_MODEL):
        EmotionClassifier.load("no-such-model")


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a keras archive")
    with pytest.raises(ModelNotFoundError, match="cannot load model"):
        EmotionClassifier.load(broken)


def test_a_model_can_ship_with_its_own_test_time_augmentation(tmp_path, astronaut_face):
    folder = tmp_path / "with-tta"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, folder)
    config = json.loads((folder / "config.json").read_text())
    config["inference"] = {"tta": "flip"}
    (folder / "config.json").write_text(json.dumps(config))
    clf = EmotionClassifier.load(folder)
    faces = np.random.default_rng(5).integers(0, 256, (8, 48, 48), dtype=np.uint8)
    assert clf.default_tta == "flip"
    np.testing.assert_allclose(clf.predict_proba(faces), clf.predict_proba(faces, tta="flip"))
    single = clf.predict_proba(faces, tta=None)
    assert not np.allclose(single, clf.predict_proba(faces)), "None asks for one view"


def test_both_shipped_models_load_by_name():
    from fer_core.analyzer import FrameAnalyzer
    from fer_core.catalog import LIVE_MODEL, model_names

    assert {DEFAULT_MODEL, LIVE_MODEL} <= set(model_names())
    assert DEFAULT_MODEL == "accurate" and LIVE_MODEL == "fast"
    fast = EmotionClassifier.load(LIVE_MODEL)
    assert fast.runtime == "litert", "the live model ships its LiteRT copy"
    assert FrameAnalyzer().classifier.metadata == fast.metadata, "live analysis uses fast"
    faces = np.random.default_rng(9).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    for clf in (fast, EmotionClassifier.load(DEFAULT_MODEL)):
        probs = clf.predict_proba(faces)
        assert probs.shape == (3, 7)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
