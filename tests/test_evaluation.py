import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core.catalog import LIVE_MODEL
from fer_core.classifier import DEFAULT_MODEL, MODELS_DIR, EmotionClassifier
from fer_core.codec import through_h264
from fer_core.data import load_dataset, to_arrays
from fer_core.errors import DatasetError, InvalidInputError
from fer_core.evaluation import accuracy_by_face_size, classification_metrics, evaluate_saved_model
from fer_core.labels import CLASSES
from fer_core.lowres import degrade

REPO = Path(__file__).resolve().parents[1]


def test_metrics_of_known_predictions():
    y_true = np.array([0, 0, 1, 1, 3, 3])
    y_pred = np.array([0, 1, 1, 1, 3, 0])
    metrics = classification_metrics(y_true, y_pred, CLASSES)
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class"]["angry"]["precision"] == pytest.approx(1 / 2)
    assert metrics["per_class"]["disgust"]["recall"] == pytest.approx(1.0)
    assert metrics["per_class"]["happy"]["support"] == 2
    assert metrics["confusion_matrix"][0] == [1, 1, 0, 0, 0, 0, 0]
    assert np.sum(metrics["confusion_matrix"]) == 6


def test_evaluate_saved_model_writes_the_report(folder_dataset, tmp_path, cache_dir):
    out = tmp_path / "report"
    metrics, paths = evaluate_saved_model(
        None,
        folder_dataset(per_class=1, test_per_class=3),
        tta=["flip"],
        out=out,
        cache_dir=cache_dir,
    )
    assert set(paths) == {"metrics", "confusion", "report"}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix", "n_images", "classes"):
        assert key in saved
    assert saved["n_images"] == 21 and saved["model"] == DEFAULT_MODEL
    assert np.asarray(saved["confusion_matrix"]).shape == (7, 7)
    assert np.sum(saved["confusion_matrix"]) == 21
    assert set(saved["per_class"]) == set(CLASSES)
    # The single-view figure is reported beside the model's own TTA, if it has one.
    single = {"none"} if saved["default_tta"] else set()
    assert set(saved["tta"]) == {"flip"} - {saved["default_tta"]} | single
    assert all(0 <= scores["accuracy"] <= 1 for scores in saved["tta"].values())
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "confusion matrix (share of true class)" in (out / "report.html").read_text()
    # Accuracy by face size, on by default, the full size being the headline figure.
    by_size = saved["by_face_size"]
    assert by_size["sizes_px"] == [48, 32, 24, 16, 12]
    assert set(by_size["accuracy"]) == set(by_size["macro_f1"]) == {"48", "32", "24", "16", "12"}
    assert by_size["accuracy"]["48"] == saved["accuracy"]
    assert by_size["macro_f1"]["48"] == saved["macro_f1"]
    assert all(0 <= a <= 1 for a in by_size["accuracy"].values())
    assert by_size["n_images"] == 21 and by_size["default_tta"] == saved["default_tta"]
    # The same sizes through a 1080p H.264 stream at ffmpeg's default quality, beside them.
    coded = saved["by_face_size_h264"]
    assert coded["h264_crf"] == 23 and "h264_crf" not in by_size
    assert coded["sizes_px"] == by_size["sizes_px"] and coded["n_images"] == 21
    assert all(0 <= a <= 1 for a in coded["accuracy"].values())


def test_labels_are_matched_to_the_model_by_name(folder_dataset, tmp_path, cache_dir):
    """A model whose classes.json lists another order is scored by class name, not code."""
    model_dir = tmp_path / "permuted"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, model_dir)
    (model_dir / "classes.json").write_text(json.dumps(list(reversed(CLASSES))))
    data = folder_dataset(per_class=1, test_per_class=3)
    metrics, _ = evaluate_saved_model(model_dir, data, out=tmp_path / "r", cache_dir=cache_dir)

    classifier = EmotionClassifier.load(model_dir)
    frame = load_dataset(data, cache_dir=cache_dir).test
    predicted = classifier.predict(to_arrays(frame)[0])
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == frame["label"].to_numpy()))
    assert metrics["classes"] == list(reversed(CLASSES))


def test_evaluate_script_reports_a_missing_split(folder_dataset, tmp_path, cache_dir):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "evaluate.py"),
            "--model",
            str(MODELS_DIR / DEFAULT_MODEL),
            "--data",
            str(folder_dataset(per_class=1)),
            "--split",
            "private_test",
            "--out",
            str(tmp_path),
            "--cache-dir",
            str(cache_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "no split 'private_test'" in done.stderr


def test_calibration_is_fitted_on_the_validation_split_and_used_by_the_classifier(
    folder_dataset, tmp_path, cache_dir
):
    model_dir = tmp_path / "model"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, model_dir)
    data = folder_dataset(per_class=10, test_per_class=1)
    result = subprocess.run(
        [
            *(sys.executable, str(REPO / "scripts" / "calibrate.py")),
            *("--model", str(model_dir), "--data", str(data), "--cache-dir", str(cache_dir)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "temperature" in result.stdout and "ECE" in result.stdout
    saved = json.loads((model_dir / "config.json").read_text())["calibration"]
    assert saved["n_images"] == 7  # 10% of 70, stratified: one image per class
    assert saved["nll_after"] <= saved["nll_before"] + 1e-9
    assert saved["temperature"] > 0

    classifier = EmotionClassifier.load(model_dir)
    assert classifier.temperature == pytest.approx(saved["temperature"])
    faces = to_arrays(load_dataset(data, cache_dir=cache_dir).test)[0]
    raw = classifier.predict_proba(faces, calibrated=False)
    calibrated = classifier.predict_proba(faces)
    np.testing.assert_array_equal(raw.argmax(1), calibrated.argmax(1))
    np.testing.assert_allclose(calibrated.sum(1), 1.0, atol=1e-5)
    if abs(saved["temperature"] - 1) > 0.05:
        assert not np.allclose(raw, calibrated, atol=1e-4)
    metrics, _ = evaluate_saved_model(model_dir, data, out=tmp_path / "r", cache_dir=cache_dir)
    assert metrics["temperature"] == pytest.approx(saved["temperature"])
    assert 0 <= metrics["ece"] <= 1


def test_validation_split_is_the_one_the_model_was_trained_without(
    folder_dataset, tmp_path, cache_dir
):
    from fer_core.evaluation import validation_split
    from fer_core.training import split_train_val

    model_dir = tmp_path / "model"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    config["config"] |= {"val_fraction": 0.2, "seed": 1, "split_seed": 99}
    (model_dir / "config.json").write_text(json.dumps(config))
    data = folder_dataset(per_class=10, test_per_class=1)
    dataset = load_dataset(data, cache_dir=cache_dir)

    classifier = EmotionClassifier.load(model_dir)
    images, names = validation_split(classifier, dataset)
    all_images, codes = to_arrays(dataset.train)
    _, expected, _, expected_codes = split_train_val(all_images, codes, 0.2, 99)
    np.testing.assert_array_equal(images, expected)
    assert list(names) == [CLASSES[c] for c in expected_codes] and len(names) == 14

    metrics, _ = evaluate_saved_model(
        model_dir, data, split="val", out=tmp_path / "r", cache_dir=cache_dir
    )
    assert metrics["n_images"] == 14
    predicted = classifier.predict(images)
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == names))


def test_validation_split_needs_the_models_training_settings(folder_dataset, tmp_path, cache_dir):
    model_dir = tmp_path / "model"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, model_dir)
    (model_dir / "config.json").unlink()
    data = folder_dataset(per_class=10, test_per_class=1)
    with pytest.raises(DatasetError, match="val_fraction"):
        evaluate_saved_model(model_dir, data, split="val", out=tmp_path / "r", cache_dir=cache_dir)


def _detailed_faces(n: int) -> np.ndarray:
    """(n, 48, 48) uint8 faces full of fine detail (noise), which small sizes wash out."""
    return np.random.default_rng(4).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_accuracy_by_face_size_scores_the_degraded_faces():
    classifier = EmotionClassifier.load(LIVE_MODEL)
    faces = _detailed_faces(60)
    # Labelled with the model's own answers, the full-size faces score 1 by construction.
    labels = classifier.predict_proba(faces).argmax(axis=1)
    report = accuracy_by_face_size(classifier, faces, labels, sizes=(16, 12, 48))
    assert report["sizes_px"] == [48, 16, 12]
    assert report["n_images"] == 60 and report["default_tta"] == classifier.default_tta
    assert report["accuracy"]["48"] == 1.0
    for size in (16, 12):
        answers = classifier.predict_proba(degrade(faces, size)).argmax(axis=1)
        assert report["accuracy"][str(size)] == pytest.approx(np.mean(answers == labels))
    assert report["accuracy"]["12"] < 1.0, "a 12 px face is not the face the model saw"
    assert json.loads(json.dumps(report)) == report

    coded = accuracy_by_face_size(classifier, faces, labels, sizes=(24,), h264_crf=35)
    assert coded["h264_crf"] == 35 and coded["sizes_px"] == [48, 24]
    for size in (48, 24):  # every size through the codec, the full one too
        answers = classifier.predict_proba(through_h264(faces, size, 35)).argmax(axis=1)
        assert coded["accuracy"][str(size)] == pytest.approx(np.mean(answers == labels))
    assert coded["accuracy"]["48"] < 1.0, "the codec changed what the model read"


@pytest.mark.parametrize(("sizes", "message"), [((0,), "outside 1-48"), ((64,), "outside 1-48")])
def test_bad_face_sizes_are_named_before_anything_is_loaded(sizes, message, tmp_path):
    with pytest.raises(InvalidInputError, match=message):
        evaluate_saved_model(None, tmp_path / "no-such-data", face_sizes=sizes)
    classifier = EmotionClassifier.load(LIVE_MODEL)
    with pytest.raises(InvalidInputError, match=message):
        accuracy_by_face_size(classifier, _detailed_faces(2), np.zeros(2, int), sizes)
    with pytest.raises(InvalidInputError, match="48, 48"):
        accuracy_by_face_size(classifier, np.zeros((2, 64, 64), np.uint8), np.zeros(2, int))


def _evaluate_cli():
    spec = importlib.util.spec_from_file_location(
        "evaluate_script", REPO / "scripts" / "evaluate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_evaluate_script_prints_and_skips_the_face_sizes(
    folder_dataset, tmp_path, cache_dir, capsys
):
    main = _evaluate_cli()
    data = str(folder_dataset(per_class=1, test_per_class=2))
    common = ["--model", LIVE_MODEL, "--data", data, "--cache-dir", str(cache_dir)]
    assert main([*common, "--out", str(tmp_path / "a"), "--face-sizes", "16"]) == 0
    printed = capsys.readouterr().out
    assert "by face size" in printed and "16 px" in printed and "12 px" not in printed
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert saved["by_face_size"]["sizes_px"] == [48, 16]

    assert "through 1080p H.264 at CRF 23" in printed
    assert saved["by_face_size_h264"]["sizes_px"] == [48, 16]

    assert main([*common, "--out", str(tmp_path / "c"), "--face-sizes", "16", "--no-h264"]) == 0
    assert "H.264" not in capsys.readouterr().out
    assert "by_face_size_h264" not in json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert main([*common, "--out", str(tmp_path / "d"), "--face-sizes", "--h264-crf", "30"]) == 0
    assert "by_face_size_h264" not in json.loads((tmp_path / "d" / "metrics.json").read_text())

    for skip in (["--face-sizes"], ["--no-face-sizes"]):
        out = tmp_path / skip[0]
        assert main([*common, "--out", str(out), *skip]) == 0
        assert "by face size" not in capsys.readouterr().out
        saved = json.loads((out / "metrics.json").read_text())
        assert "by_face_size" not in saved and "by_face_size_h264" not in saved

    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--out", str(tmp_path / "b"), "--face-sizes", "0"])
    assert exit_info.value.code == 2 and "face size 0 px" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--out", str(tmp_path / "b"), "--h264-crf", "60"])
    assert exit_info.value.code == 2 and "CRF is a whole number 0-51" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
