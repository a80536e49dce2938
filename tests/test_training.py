import itertools
import json
import shutil
from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import pytest

from fer_core import training
from fer_core.batches import ShuffledBatches
from fer_core.classifier import DEFAULT_MODEL, MODELS_DIR, EmotionClassifier
from fer_core.data import load_dataset, to_arrays
from fer_core.labels import CLASSES
from fer_core.lowres import LowResBatches, ViewBatches, degrade
from fer_core.mixup import MixupBatches
from fer_core.models import RECIPES, build_model
from fer_core.preprocessing import preprocess
from fer_core.routing import routed_parts
from fer_core.training import RunDirectoryError, TrainConfig, TrainSettingError, train


class Interrupted(Exception):
    """Stands in for a session ending mid-run."""


def _interrupt_after_first_epoch(monkeypatch):
    """Make a run raise ``Interrupted`` after its first epoch; returns the original hook."""
    original = training.EpochLog.on_epoch_end

    def stop_after_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        raise Interrupted

    monkeypatch.setattr(training.EpochLog, "on_epoch_end", stop_after_first_epoch)
    return original


def _config(root, out, cache_dir, **kwargs) -> TrainConfig:
    settings = {"arch": "vgg", "epochs": 2, "batch_size": 8, "val_fraction": 0.25} | kwargs
    return TrainConfig(data=str(root), out=str(out), cache_dir=str(cache_dir), **settings)


def test_interrupted_run_resumes_from_its_checkpoint(
    folder_dataset, tmp_path, cache_dir, monkeypatch
):
    root = folder_dataset(per_class=4)
    out = tmp_path / "run"
    original = _interrupt_after_first_epoch(monkeypatch)
    with pytest.raises(Interrupted):
        train(_config(root, out, cache_dir))
    assert (out / training.BACKUP_DIR).is_dir(), "a checkpoint is written every epoch"
    assert (out / training.BEST_FILE).is_file()
    assert len(pd.read_csv(out / training.HISTORY_FILE)) == 1
    assert not (out / training.MODEL_FILE).exists()

    with pytest.raises(RunDirectoryError, match="--resume"):
        train(_config(root, out, cache_dir))
    with pytest.raises(RunDirectoryError, match="epochs: 2 -> 3"):
        train(_config(root, out, cache_dir, resume=True, epochs=3))

    monkeypatch.setattr(training.EpochLog, "on_epoch_end", original)
    result = train(_config(root, out, cache_dir, resume=True))
    history = pd.read_csv(out / training.HISTORY_FILE)
    assert list(history["epoch"]) == [0, 1], "resumed at the second epoch, history appended"
    assert {"accuracy", "val_accuracy", "loss", "val_loss"} <= set(history.columns)
    assert result.model_path == out / training.MODEL_FILE and result.model_path.is_file()
    assert not (out / training.BACKUP_DIR).exists()

    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["epochs"] == 2 and saved["config"]["arch"] == "vgg"
    assert json.loads((out / "classes.json").read_text()) == list(CLASSES)

    # The exported model has no optimizer state and loads into the public API.
    assert getattr(keras.models.load_model(result.model_path), "optimizer", None) is None
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    exported = EmotionClassifier.load(out, precision="float32").predict_proba(faces)
    best = keras.models.load_model(out / training.BEST_FILE).predict_on_batch(preprocess(faces))
    np.testing.assert_allclose(exported, best, atol=1e-5)

    with pytest.raises(RunDirectoryError, match="nothing to resume"):
        train(_config(root, out, cache_dir, resume=True))


def test_fresh_run_refuses_to_overwrite_a_finished_one(folder_dataset, tmp_path, cache_dir):
    out = tmp_path / "done"
    out.mkdir()
    (out / training.MODEL_FILE).write_bytes(b"")
    with pytest.raises(RunDirectoryError, match="already holds"):
        train(_config(folder_dataset(), out, cache_dir))


@pytest.mark.parametrize("arch", sorted(RECIPES))
def test_every_architecture_maps_48x48_gray_to_7_probabilities(arch):
    model = build_model(arch)
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, len(CLASSES))


def test_a_half_resolution_network_takes_its_full_resolution_twins_weights():
    full, half = build_model("vgg-m"), build_model("vgg-m-half")
    assert [w.shape for w in half.weights] == [w.shape for w in full.weights]
    convs = [layer for layer in half.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs[0].output.shape[1:3] == (20, 20)  # 40 px after the crop, then halved
    half.set_weights(full.get_weights())
    faces = np.random.default_rng(0).random((2, 48, 48, 1), dtype=np.float32)
    np.testing.assert_allclose(half.predict_on_batch(faces).sum(axis=1), 1.0, atol=1e-5)


def test_early_stopping_is_off_for_cosine_schedules_unless_asked_for():
    # Stopping early would cut a cosine schedule before its low-rate end.
    assert TrainConfig(data=".", out=".", arch="vgg").resolved().patience == 0
    assert TrainConfig(data=".", out=".", arch="vgg", patience=5).resolved().patience == 5
    assert TrainConfig(data=".", out=".", arch="baseline").resolved().patience == 20


def test_learning_rate_overrides_are_recorded_in_the_recipe():
    config = TrainConfig(data=".", out=".", learning_rate=4e-4, warmup_epochs=0).resolved()
    assert config.recipe["learning_rate"] == 4e-4 and config.recipe["warmup_epochs"] == 0


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        TrainConfig(data=".", out=".", arch="nope").resolved()


def test_weight_decay_override_is_recorded_in_the_recipe():
    config = TrainConfig(data=".", out=".", arch="vgg", weight_decay=0.05).resolved()
    assert config.recipe["weight_decay"] == 0.05


def test_precision_override_is_recorded_in_the_recipe():
    assert TrainConfig(data=".", out=".", arch="vgg").resolved().recipe["mixed_precision"] is False
    config = TrainConfig(data=".", out=".", arch="vgg", mixed_precision=True).resolved()
    assert config.recipe["mixed_precision"] is True
    wide = TrainConfig(data=".", out=".", arch="vgg-wide", mixed_precision=False).resolved()
    assert wide.recipe["mixed_precision"] is False


def test_soft_targets_mix_the_teachers_probabilities_with_the_labels():
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5])
    onehot = keras.utils.to_categorical(labels, len(CLASSES))
    teacher = EmotionClassifier.load()
    expected = teacher.predict_proba(faces, tta=teacher.default_tta or "flip", calibrated=False)

    np.testing.assert_allclose(training.soft_targets([None], faces, labels, 0.0), onehot)
    taught = training.soft_targets([None], faces, labels, 1.0)
    np.testing.assert_allclose(taught, expected, atol=1e-5)
    # Teachers are averaged: the same model twice teaches what it teaches alone.
    twice = training.soft_targets([None, DEFAULT_MODEL], faces, labels, 1.0)
    np.testing.assert_allclose(twice, expected, atol=1e-5)
    mixed = training.soft_targets([None], faces, labels, 0.3)
    np.testing.assert_allclose(mixed, 0.7 * onehot + 0.3 * expected, atol=1e-5)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="teacher_weight"):
        training.soft_targets([None], faces, labels, 1.5)
    with pytest.raises(ValueError, match="at least one teacher"):
        training.soft_targets([], faces, labels, 0.5)


def test_soft_targets_label_once_per_teacher_and_images(tmp_path, monkeypatch):
    faces = np.random.default_rng(2).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    labels = np.arange(5)
    cache = tmp_path / "cache"
    fresh = training.soft_targets([None], faces, labels, 1.0, cache)
    assert len(list(cache.glob("teacher-*.npy"))) == 1

    def no_labelling(*args, **kwargs):
        raise AssertionError("the teacher labelled images the cache holds")

    with monkeypatch.context() as patched:
        patched.setattr(EmotionClassifier, "load", no_labelling)
        np.testing.assert_array_equal(
            training.soft_targets([None], faces, labels, 1.0, cache), fresh
        )
        with pytest.raises(AssertionError, match="labelled"):  # other images: labelled anew
            training.soft_targets([None], faces[::-1].copy(), labels, 1.0, cache)
    # The same network behind another config is another teacher.
    other = tmp_path / "other"
    shutil.copytree(MODELS_DIR / DEFAULT_MODEL, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "note": "a copy"}))
    training.soft_targets([other], faces, labels, 1.0, cache)
    assert len(list(cache.glob("teacher-*.npy"))) == 2
    assert not list(cache.glob("*.partial*"))


def test_a_distilled_run_records_its_teacher(folder_dataset, tmp_path, cache_dir):
    out = tmp_path / "student"
    config = _config(
        folder_dataset(per_class=4),
        out,
        cache_dir,
        epochs=1,
        teachers=[DEFAULT_MODEL],
        teacher_weight=0.7,
    )
    result = train(config)
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["teacher_weight"] == 0.7 and saved["teachers"] == [DEFAULT_MODEL]
    assert result.model_path.is_file()


def test_teacher_views_label_each_degraded_face_the_student_sees(
    folder_dataset, tmp_path, cache_dir, monkeypatch
):
    seen = _spy_on_fit(monkeypatch)
    out = tmp_path / "student"
    config = _config(
        folder_dataset(per_class=4),
        out,
        cache_dir,
        epochs=1,
        teachers=[DEFAULT_MODEL],
        teacher_views=2,
        lowres=1.0,
        lowres_sizes=(12, 16),
    )
    result = train(config)
    batches = seen["x"]
    assert isinstance(batches, ViewBatches) and batches.views.shape[0] == 3
    faces, targets = batches[0]
    assert faces.shape[1:] == (48, 48, 1) and targets.shape[1] == 7
    # The targets differ view by view: the teacher read each degraded face itself.
    assert not np.allclose(batches.view_targets[1], batches.view_targets[0])
    assert json.loads((out / "config.json").read_text())["config"]["teacher_views"] == 2
    assert result.model_path.is_file()
    with pytest.raises(TrainSettingError, match="--teacher and --lowres"):
        TrainConfig(data="d", out="o", teacher_views=2, lowres=1.0).resolved()


class _FakeModel:
    """Just what EpochBudget touches: an optimizer's learning rate and stop_training."""

    def __init__(self) -> None:
        self.optimizer = keras.optimizers.AdamW(1e-3)
        self.stop_training = False


def test_epoch_budget_plans_the_cosine_schedule_to_end_in_time(tmp_path, monkeypatch):
    clock = {"now": 0.0}
    monkeypatch.setattr(training.time, "monotonic", lambda: clock["now"])
    budget = training.EpochBudget(
        peak=2e-3,
        warmup_epochs=2,
        max_epochs=100,
        budget_s=100.0,
        start=0.0,
        plan_file=tmp_path / "plan.json",
    )
    budget.set_model(_FakeModel())
    rates = []
    epoch = 0
    while not budget.model.stop_training:
        budget.on_epoch_begin(epoch)
        rates.append(float(budget.model.optimizer.learning_rate))
        clock["now"] += 20.0 if epoch == 0 else 9.0  # the first epoch also compiles
        budget.on_epoch_end(epoch)
        epoch += 1
    # 20 s + 9 s, then 71 s left for 7 more 9-second epochs: 9 in all, done by 92 s.
    assert epoch == budget.planned == 9 and clock["now"] <= 100.0
    assert json.loads((tmp_path / "plan.json").read_text()) == {"epochs": 9}
    assert rates[0] < rates[1] < rates[2] == pytest.approx(2e-3), "warm-up, then the peak"
    assert all(a >= b for a, b in itertools.pairwise(rates[2:])), "then only down"
    assert rates[-1] < 0.1 * 2e-3, "ending near zero, inside the budget"

    resumed = training.EpochBudget(2e-3, 2, 100, 1000.0, 0.0, tmp_path / "plan.json")
    assert resumed.planned == 9, "a resumed run keeps its plan"


def test_a_time_budgeted_run_records_its_plan(folder_dataset, tmp_path, cache_dir):
    root = folder_dataset(per_class=4)
    result = train(
        _config(root, tmp_path / "run", cache_dir, arch="vgg-tiny", epochs=50, time_budget_s=0.001)
    )
    history = pd.read_csv(tmp_path / "run" / training.HISTORY_FILE)
    assert len(history) == 2, "the budget stops the run once an epoch has been timed"
    assert json.loads((tmp_path / "run" / training.PLAN_FILE).read_text()) == {"epochs": 2}
    assert result.model_path.is_file()


def test_resuming_a_budgeted_run_needs_a_budget(folder_dataset, tmp_path, cache_dir, monkeypatch):
    root = folder_dataset(per_class=4)
    out = tmp_path / "run"
    original = _interrupt_after_first_epoch(monkeypatch)
    with pytest.raises(Interrupted):
        train(_config(root, out, cache_dir, epochs=3, time_budget_s=600.0))
    with pytest.raises(RunDirectoryError, match="--time-budget"):
        train(_config(root, out, cache_dir, epochs=3, resume=True))
    with pytest.raises(ValueError, match="positive"):
        train(_config(root, tmp_path / "other", cache_dir, time_budget_s=0.0))

    # A run saved before split_seed existed resumes when its seed was the split's seed.
    saved = json.loads((out / "config.json").read_text())
    del saved["config"]["split_seed"]
    (out / "config.json").write_text(json.dumps(saved))
    monkeypatch.setattr(training.EpochLog, "on_epoch_end", original)
    train(_config(root, out, cache_dir, epochs=3, resume=True, time_budget_s=600.0))
    assert len(pd.read_csv(out / training.HISTORY_FILE)) == 3


def _spy_on_fit(monkeypatch) -> dict:
    """Record what ``train`` hands to ``fit``, and the model's weights as fitting starts."""
    seen: dict = {}
    original = keras.Model.fit

    def fit(self, *args, **kwargs):
        seen.update(kwargs, weights=self.get_weights())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    return seen


def test_training_input_degrades_after_mixup_and_only_when_asked():
    faces = np.random.default_rng(0).random((20, 48, 48, 1), dtype=np.float32)
    targets = keras.utils.to_categorical(np.arange(20) % 7, len(CLASSES))
    plain = training.training_input(TrainConfig(".", ".", batch_size=8), faces, targets)
    assert plain["x"] is faces and plain["y"] is targets and plain["batch_size"] == 8

    lowres = training.training_input(
        TrainConfig(".", ".", batch_size=8, lowres=1.0, seed=5), faces, targets
    )["x"]
    assert isinstance(lowres, LowResBatches) and isinstance(lowres.source, ShuffledBatches)
    assert len(lowres) == 3 and lowres.seed == 5
    batch, _ = lowres[0]
    assert batch.shape == (8, 48, 48, 1) and batch.dtype == np.float32
    assert not any(np.array_equal(face, original) for face in batch for original in faces)

    both = TrainConfig(".", ".", batch_size=8, lowres=0.5, mixup=0.2)
    chained = training.training_input(both, faces, targets)["x"]
    assert isinstance(chained, LowResBatches) and isinstance(chained.source, MixupBatches)

    with pytest.raises(training.TrainSettingError, match="low-resolution share"):
        TrainConfig(".", ".", lowres=1.5).resolved()

    compressed = TrainConfig(".", ".", batch_size=8, compression=0.3)
    batches = training.training_input(compressed, faces, targets)["x"]
    assert isinstance(batches, LowResBatches) and (batches.share, batches.compression) == (0, 0.3)
    with pytest.raises(training.TrainSettingError, match="compressed share"):
        TrainConfig(".", ".", compression=-0.1).resolved()
    with pytest.raises(training.TrainSettingError, match="compression does not combine"):
        TrainConfig(
            ".", ".", lowres=1.0, teachers=["t"], teacher_views=2, compression=0.3
        ).resolved()

    weighted = TrainConfig(".", ".", batch_size=8, lowres=1.0, lowres_sizes=(16, 16, 24))
    assert training.training_input(weighted, faces, targets)["x"].sizes == (16, 16, 24)
    for sizes in [(), (16, 48), (0,), (True,)]:
        with pytest.raises(training.TrainSettingError, match="low-resolution sizes"):
            TrainConfig(".", ".", lowres=0.5, lowres_sizes=sizes).resolved()


def test_a_small_face_run_is_validated_on_small_faces(
    folder_dataset, tmp_path, cache_dir, monkeypatch
):
    root = folder_dataset(per_class=4)
    seen = _spy_on_fit(monkeypatch)
    train(
        _config(
            root,
            tmp_path / "small",
            cache_dir,
            arch="vgg-tiny",
            epochs=1,
            lowres=1.0,
            val_face_size=16,
        )
    )
    images, codes = to_arrays(load_dataset(root, cache_dir=cache_dir).train)
    _, x_val, _, _ = training.split_train_val(images, codes, 0.25, 1337)
    np.testing.assert_array_equal(seen["validation_data"][0], preprocess(degrade(x_val, 16)))
    saved = json.loads((tmp_path / "small" / "config.json").read_text())
    assert saved["config"]["val_face_size"] == 16
    for size in (0, 48, 16.5, True):
        with pytest.raises(training.TrainSettingError, match="validation face size"):
            TrainConfig(".", ".", val_face_size=size).resolved()


def test_a_low_resolution_run_degrades_training_faces_only_and_resumes_with_its_share(
    folder_dataset, tmp_path, cache_dir, monkeypatch
):
    root = folder_dataset(per_class=4)
    out = tmp_path / "lowres"
    original = _interrupt_after_first_epoch(monkeypatch)
    seen = _spy_on_fit(monkeypatch)
    with pytest.raises(Interrupted):
        train(_config(root, out, cache_dir, arch="vgg-tiny", lowres=0.5))

    assert isinstance(seen["x"], LowResBatches) and seen["x"].share == 0.5
    # Validation gets the held-out faces exactly as preprocessing gives them.
    images, codes = to_arrays(load_dataset(root, cache_dir=cache_dir).train)
    _, x_val, _, _ = training.split_train_val(images, codes, 0.25, 1337)
    np.testing.assert_array_equal(seen["validation_data"][0], preprocess(x_val))
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["lowres"] == 0.5
    assert saved["lowres_sizes_px"] == [12, 16, 20, 24, 32]

    with pytest.raises(RunDirectoryError, match=r"lowres: 0\.5 -> 0\.0"):
        train(_config(root, out, cache_dir, arch="vgg-tiny", resume=True))
    monkeypatch.setattr(training.EpochLog, "on_epoch_end", original)
    train(_config(root, out, cache_dir, arch="vgg-tiny", lowres=0.5, resume=True))
    assert isinstance(seen["x"], LowResBatches), "the resumed epochs degrade faces too"
    assert len(pd.read_csv(out / training.HISTORY_FILE)) == 2


def _saved_network(folder, seed: int, arch: str = "vgg-tiny", val_fraction: float = 0.25):
    """A trained-looking model folder: a network of ``arch`` with its own random weights and
    the config.json training writes (arch and validation split)."""
    keras.utils.set_random_seed(seed)
    folder.mkdir(parents=True)
    build_model(arch).save(folder / "model.keras")
    config = {"config": {"arch": arch, "val_fraction": val_fraction, "split_seed": 1337}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _same_weights(actual, expected) -> bool:
    return len(actual) == len(expected) and all(
        np.array_equal(a, e) for a, e in zip(actual, expected, strict=True)
    )


def test_a_run_starts_from_the_chosen_network_of_an_ensemble(
    folder_dataset, tmp_path, cache_dir, monkeypatch
):
    from fer_core.ensemble import save_ensemble

    first = _saved_network(tmp_path / "first", seed=1)
    second = _saved_network(tmp_path / "second", seed=2)
    ensemble = save_ensemble([first, second], tmp_path / "ensemble").parent
    wanted = keras.models.load_model(second / "model.keras").get_weights()
    seen = _spy_on_fit(monkeypatch)
    out = tmp_path / "tuned"
    result = train(
        _config(
            folder_dataset(per_class=4),
            out,
            cache_dir,
            arch="vgg-tiny",
            epochs=1,
            init_from=str(ensemble),
            init_member=1,
            lowres=0.5,
        )
    )
    assert _same_weights(seen["weights"], wanted), "fitting starts from member 1's weights"
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["init_from"] == str(ensemble) and saved["init_member"] == 1
    assert not _same_weights(keras.models.load_model(result.model_path).get_weights(), wanted)

    # A single network, given as its .keras file.
    model = build_model("vgg-tiny")
    config = TrainConfig(".", ".", arch="vgg-tiny", val_fraction=0.25, init_from=str(first))
    assert "first" in training.load_initial_weights(model, config)
    assert _same_weights(
        model.get_weights(), keras.models.load_model(first / "model.keras").get_weights()
    )


def test_starting_weights_that_do_not_fit_are_named(tmp_path):
    from fer_core.ensemble import save_ensemble

    first = _saved_network(tmp_path / "first", seed=1)
    second = _saved_network(tmp_path / "second", seed=2)
    ensemble = str(save_ensemble([first, second], tmp_path / "ensemble").parent)
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a keras archive")

    def start(arch="vgg-tiny", val_fraction=0.25, **kwargs):
        config = TrainConfig(".", ".", arch=arch, val_fraction=val_fraction, **kwargs)
        training.load_initial_weights(build_model(arch), config)

    init = training.InitWeightsError
    with pytest.raises(init, match=r"ensemble of 2 networks \(member 0 \(first, vgg-tiny\)"):
        start(init_from=ensemble)
    with pytest.raises(init, match=r"choose one with init_member .*\(not 2\)"):
        start(init_from=ensemble, init_member=2)
    with pytest.raises(init, match="single network; drop init_member"):
        start(init_from=str(first), init_member=0)
    with pytest.raises(init, match="do not fit a vgg network"):
        start(arch="vgg", init_from=str(first))
    with pytest.raises(init, match=r"cannot start from .*missing"):
        start(init_from=str(tmp_path / "missing"))
    with pytest.raises(init, match=r"cannot start from .*corrupt.keras"):
        start(init_from=str(corrupt))
    with pytest.raises(init, match=r"--val-fraction 0.25 --split-seed 1337"):
        start(val_fraction=0.1, init_from=str(first))
    with pytest.raises(training.TrainSettingError, match="name init_from"):
        TrainConfig(".", ".", init_member=0).resolved()


def test_each_network_of_a_shipped_ensemble_can_be_fine_tuned():
    shipped = keras.models.load_model(MODELS_DIR / "fast" / "model.keras", compile=False)
    general = (routed_parts(shipped) or (shipped,))[0]  # a routed model's general ensemble
    model = build_model("vgg-m")
    config = TrainConfig(".", ".", arch="vgg-m", init_from="fast", init_member=0)
    first = json.loads((MODELS_DIR / "fast" / "config.json").read_text())["members"][0]
    assert first["arch"] == "vgg-m"
    described = training.load_initial_weights(model, config)
    assert f"member 0 ({first['model']}, vgg-m)" in described
    assert _same_weights(model.get_weights(), general.get_layer("member_0").get_weights())
    with pytest.raises(training.InitWeightsError, match="do not fit a vgg-m network"):
        training.load_initial_weights(model, replace(config, init_member=2))  # a plain vgg
