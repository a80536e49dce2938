"""FrameAnalyzer on real faces: the astronaut photo, moved and tiled into synthetic video."""

import itertools
import threading
import time

import cv2
import numpy as np
import pytest

from fer_core import FrameAnalyzer
from fer_core.analyzer import UNKNOWN
from fer_core.detection import HaarFaceDetector, crop_faces
from fer_core.detectors.scoring import iou_matrix
from fer_core.errors import InvalidInputError
from fer_core.live import LiveMonitor
from fer_core.synthetic import panning_crowd
from fer_core.tracking import Handover


def exact_analyzer(classifier=None, **kwargs) -> FrameAnalyzer:
    """Every frame searched and classified, in the calling thread: the reference behaviour."""
    settings = dict(detect_every_s=0, classify_every_s=0, background_search=False)
    return FrameAnalyzer(classifier, smoothing_s=0, **(settings | kwargs))


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    return exact_analyzer()


@pytest.fixture(scope="module")
def face_patch(astronaut_bgr) -> np.ndarray:
    """The astronaut's head and shoulders, big enough for the detector."""
    return astronaut_bgr[20:220, 130:320]


def _scene(patch: np.ndarray, positions: list[tuple[int, int]], size=(480, 640)) -> np.ndarray:
    frame = np.full((*size, 3), 90, np.uint8)
    for x, y in positions:
        frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return frame


def test_finds_and_reads_a_real_face(analyzer, astronaut_bgr):
    analyzer.reset()
    (face,) = analyzer.analyze(astronaut_bgr)
    x, y, w, h = face.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180
    assert face.label == "happy" and face.classified
    assert face.probs.shape == (7,) and face.probs.sum() == pytest.approx(1, abs=1e-5)
    assert face.confidence == pytest.approx(face.probs.max())
    assert face.track_id == 1


def test_no_faces_in_an_empty_scene(analyzer):
    assert analyzer.analyze(np.full((240, 320, 3), 127, np.uint8)) == []


def test_ids_follow_moving_faces_and_a_new_face_gets_a_new_id(analyzer, face_patch):
    analyzer.reset()
    ids_per_frame, confirmed_per_frame, seen = [], [], []
    for step in range(11):
        positions = [(20 + 8 * step, 40), (420 - 6 * step, 250)]
        if step >= 5:
            positions.append((300, 20))  # a third person sits down
        faces = analyzer.analyze(_scene(face_patch, positions, size=(480, 700)), step / 10)
        ids_per_frame.append([f.track_id for f in faces])
        confirmed_per_frame.append([f.confirmed for f in faces])
        seen.append(analyzer.faces_seen)
    assert ids_per_frame[:5] == [[1, 2]] * 5
    assert ids_per_frame[5:] == [[1, 2, 3]] * 6
    # A face is a person once searches 0.5 s apart have found it; until then it is tentative.
    assert confirmed_per_frame[:5] == [[False, False]] * 5
    assert confirmed_per_frame[5:10] == [[True, True, False]] * 5
    assert confirmed_per_frame[10] == [True, True, True]
    assert seen == [2, 0, 0, 0, 0, 2, 2, 2, 2, 2, 3]  # the first frame alone counts as a photo


def test_a_photo_counts_every_face_it_finds(face_patch):
    analyzer = FrameAnalyzer()
    faces = analyzer.analyze(_scene(face_patch, [(20, 40), (420, 250)], size=(480, 700)))
    assert len(faces) == 2 and analyzer.faces_seen == 2


def test_a_resumed_stream_keeps_the_people_handed_over_and_is_no_photo(analyzer, face_patch):
    analyzer.reset()
    before = _scene(face_patch, [(20, 40)], size=(480, 700))
    (seated,) = analyzer.analyze(before, 0.0)
    # Another analyzer carries the stream on (a restarted worker): person 5 was at that box,
    # eight people were counted, and a newcomer sits down meanwhile.
    handover = Handover(np.array([5]), np.array([seated.box], float), 9, 8)
    analyzer.resume(handover, 40.0)
    after = _scene(face_patch, [(24, 40), (420, 250)], size=(480, 700))
    faces = analyzer.analyze(after, 40.0)
    assert [(f.track_id, f.confirmed) for f in faces] == [(5, True), (9, False)]
    assert analyzer.faces_seen == 8  # not the photo rule's 2: the newcomer is not confirmed yet
    analyzer.reset()
    analyzer.analyze(after, 0.0)
    assert analyzer.faces_seen == 2  # reset forgets the handover: a first frame again


def test_an_analyzer_hands_over_the_people_it_follows_in_view_or_not(analyzer, face_patch):
    analyzer.reset()
    both = _scene(face_patch, [(20, 40), (420, 250)], size=(480, 700))
    for step in range(6):
        analyzer.analyze(both, step / 10)
    assert analyzer.handover(0.5).ids.tolist() == [1, 2]
    one = _scene(face_patch, [(20, 40)], size=(480, 700))  # the second turns away
    for time_s in (1.0, 2.0):
        analyzer.analyze(one, time_s)
    handover = analyzer.handover(2.0)
    assert handover.ids.tolist() == [1, 2] and handover.away_s.tolist() == [0.0, 1.5]
    assert handover.faces_seen == 2 and handover.next_id == 3


def test_smoothing_on_and_off(astronaut_bgr):
    raw = exact_analyzer()
    smooth = FrameAnalyzer(raw.classifier, smoothing_s=1.0, classify_every_s=0)
    dimmed = (astronaut_bgr * 0.5).astype(np.uint8)
    mirrored = np.ascontiguousarray(astronaut_bgr[:, ::-1])
    for i, frame in enumerate([astronaut_bgr, dimmed, mirrored]):
        (r,) = raw.analyze(frame, i * 0.1)
        (s,) = smooth.analyze(frame, i * 0.1)
    # Off: exactly the classifier's answer for this frame's crop.
    crop = crop_faces(mirrored, np.array([r.box]), raw.margin)
    np.testing.assert_allclose(r.probs, raw.classifier.predict_proba(crop)[0], atol=1e-6)
    # On: earlier frames are blended in, and the result is still a distribution.
    assert not np.allclose(r.probs, s.probs, atol=1e-4)
    assert s.probs.sum() == pytest.approx(1, abs=1e-5)


def test_classify_every_bounds_the_classifier_work(astronaut_bgr, monkeypatch):
    analyzer = FrameAnalyzer(classify_every_s=0.5, detect_every_s=0, background_search=False)
    calls = []
    original = analyzer.classifier.predict_proba
    monkeypatch.setattr(
        analyzer.classifier,
        "predict_proba",
        lambda crops: calls.append(len(crops)) or original(crops),
    )
    results = [analyzer.analyze(astronaut_bgr, t)[0] for t in np.arange(0, 1.2, 0.1)]
    assert calls == [1, 1, 1]  # at 0.0, 0.5 and 1.0 s
    np.testing.assert_array_equal(results[1].probs, results[0].probs)  # reused in between
    assert all(face.classified and face.label == "happy" for face in results)
    assert analyzer.frames_analyzed == 12
    assert {"detect", "track", "classify"} <= set(analyzer.stage_seconds)


def test_small_faces_are_reported_but_not_classified(astronaut_bgr):
    analyzer = FrameAnalyzer(min_face=500)
    (face,) = analyzer.analyze(astronaut_bgr)
    assert not face.classified and face.label == UNKNOWN and np.isnan(face.probs).all()


def test_large_frames_are_detected_downscaled_in_full_frame_coordinates(astronaut_bgr):
    big = cv2.resize(astronaut_bgr, None, fx=3, fy=3)
    (small_face,) = FrameAnalyzer(detect_width=None).analyze(astronaut_bgr)
    (big_face,) = FrameAnalyzer(detect_width=512).analyze(big)
    np.testing.assert_allclose(np.array(big_face.box) / 3, small_face.box, atol=12)


def test_annotate_and_blur_keep_the_frame_shape(analyzer, astronaut_bgr):
    faces = analyzer.analyze(astronaut_bgr)
    drawn = analyzer.annotate(astronaut_bgr, faces)
    blurred = analyzer.annotate(astronaut_bgr, faces, blur=True)
    assert drawn.shape == blurred.shape == astronaut_bgr.shape and drawn.dtype == np.uint8
    assert not np.array_equal(drawn, astronaut_bgr), "boxes and labels are drawn"
    x, y, w, h = faces[0].box
    inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
    original, hidden = astronaut_bgr[inner].astype(float), blurred[inner].astype(float)
    assert hidden.std() < original.std() * 0.8, "the face is blurred"
    assert np.array_equal(analyzer.annotate(astronaut_bgr, []), astronaut_bgr)


def test_bad_frames_are_rejected(analyzer):
    with pytest.raises(InvalidInputError, match="BGR frame"):
        analyzer.analyze(np.zeros((10, 10), np.uint8))
    with pytest.raises(InvalidInputError, match="BGR frame"):
        analyzer.analyze(np.zeros((10, 10, 3), np.float32))


def test_safe_to_call_from_several_threads(analyzer, astronaut_bgr):
    analyzer.reset()
    errors, results = [], []
    clock = itertools.count()  # stream times 0.2 s apart, so the face is confirmed

    def work():
        try:
            for _ in range(3):
                results.append(len(analyzer.analyze(astronaut_bgr, next(clock) * 0.2)))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == [1] * 9
    assert analyzer.faces_seen == 1


def test_blur_leaves_no_face_in_a_crowd():
    # 200 faces of 14-48 px in a hall: a blurred face with sharp hair above it still read as
    # a head to Haar, so the blur reaches up over the hair. A Haar box counts when it sits on
    # a face (IoU >= 0.5; on the sharp frames every one of its boxes does, at 0.73 or more):
    # an eager cascade also fires, rarely, on a patch of blur cells between two faces.
    analyzer = FrameAnalyzer(smoothing_s=0, background_search=False)
    haar = HaarFaceDetector(min_neighbors=3, min_size=24)  # more eager than its default 5

    def on_faces(found: np.ndarray, truth: np.ndarray) -> int:
        return int((iou_matrix(found, truth).max(axis=1) >= 0.5).sum()) if len(found) else 0

    for index, (_, frame, truth) in enumerate(panning_crowd(seconds=2.0)):
        if index % 12 == 0:
            assert on_faces(haar.detect(frame), truth) > 100
            assert on_faces(haar.detect(analyzer.annotate(frame, [], blur=True)), truth) == 0


def test_blurred_frames_may_be_drawn_beside_a_search(astronaut_bgr):
    # With blur on, annotate searches the frame it draws while the background search may be
    # running: BlazeFace's interpreter refuses to be run twice at once.
    analyzer = FrameAnalyzer(detector="blazeface", smoothing_s=0)
    errors = []

    def work():
        try:
            for _ in range(40):
                analyzer.annotate(astronaut_bgr, [], blur=True)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def test_between_searches_faces_are_followed_by_flow_and_newcomers_wait_for_a_search(
    face_patch, monkeypatch
):
    exact = exact_analyzer()
    quick = FrameAnalyzer(
        exact.classifier, smoothing_s=0, detect_every_s=0.5, background_search=False
    )
    full_searches = []
    search = quick.detect_faces
    monkeypatch.setattr(
        quick, "detect_faces", lambda *args, **kw: full_searches.append(1) or search(*args, **kw)
    )
    for step in range(10):
        positions = [(20 + 8 * step, 40), (420 - 6 * step, 250)]
        if step >= 3:
            positions.append((300, 20))  # a third person sits down at 0.3 s
        frame = _scene(face_patch, positions, size=(480, 700))
        reference = sorted(f.box for f in exact.analyze(frame, step / 10))
        faces = quick.analyze(frame, step / 10)
        ids = sorted(f.track_id for f in faces)
        if step < 5:  # the third face waits for the full search at 0.5 s
            assert ids == [1, 2]
        else:
            assert ids == [1, 2, 3]
        # Followed faces sit where a full search puts them, within a few pixels.
        for box in (f.box for f in faces):
            nearest = min(reference, key=lambda r: np.abs(np.subtract(r, box)).sum())
            assert np.abs(np.subtract(nearest, box)).max() <= 0.15 * box[2]
    assert len(full_searches) == 2  # at 0.0 s and 0.5 s


def test_blur_hides_a_newcomer_before_the_next_search(face_patch):
    # LiveMonitor returns each frame as ``annotate`` draws it; the tracks know a newcomer
    # only after the next full search (here 10 s away), the blur must not wait for it.
    analyzer = FrameAnalyzer(smoothing_s=0, detect_every_s=10.0, background_search=False)
    haar = HaarFaceDetector(min_neighbors=3, min_size=24)  # more eager than its default 5
    one = _scene(face_patch, [(40, 40)], size=(480, 700))
    two = _scene(face_patch, [(40, 40), (420, 240)], size=(480, 700))
    assert len(haar.detect(two)) == 2
    monitor = LiveMonitor(analyzer, blur=True, clock=lambda: 0.0)
    assert len(haar.detect(monitor.process(one))) == 0
    shown = monitor.process(two)
    assert [f.track_id for f in monitor.record.last_faces] == [1]  # not searched yet
    assert len(haar.detect(shown)) == 0


def test_an_empty_room_is_searched_often_until_someone_arrives(face_patch):
    analyzer = FrameAnalyzer(smoothing_s=0, detect_every_s=10.0, background_search=False)
    empty = np.full((480, 700, 3), 90, np.uint8)
    assert analyzer.analyze(empty, 0.0) == []
    assert analyzer.analyze(_scene(face_patch, [(100, 100)], size=(480, 700)), 0.1) == []
    faces = analyzer.analyze(_scene(face_patch, [(100, 100)], size=(480, 700)), 0.3)
    assert [f.track_id for f in faces] == [1]


def test_a_panning_camera_keeps_every_id(face_patch):
    analyzer = FrameAnalyzer(smoothing_s=0, detect_every_s=0.5, background_search=False)
    canvas = _scene(face_patch, [(40, 40), (260, 60), (480, 240)], size=(480, 900))
    for step in range(12):  # 12 px a frame to the left: 360 px/s at 30 frames/s
        frame = np.ascontiguousarray(canvas[:, 12 * step : 12 * step + 640])
        faces = analyzer.analyze(frame, step / 30)
        assert sorted(f.track_id for f in faces) == [1, 2, 3]
    (first,) = [f for f in faces if f.track_id == 1]
    assert abs(first.box[0] + first.box[2] / 2 - (40 + 95 - 12 * 11)) < 12  # moved with the pan


def test_a_background_search_adds_newcomers_without_holding_up_frames(face_patch):
    analyzer = FrameAnalyzer(smoothing_s=0, detect_every_s=0.2, background_search=True)
    one = _scene(face_patch, [(40, 40)], size=(480, 700))
    two = _scene(face_patch, [(40, 40), (400, 200)], size=(480, 700))
    assert len(analyzer.analyze(one, 0.0)) == 1  # the first frame is searched at once
    counts, deadline = [], time.monotonic() + 60
    while (not counts or counts[-1] < 2) and time.monotonic() < deadline:
        counts.append(len(analyzer.analyze(two, 0.1 * len(counts) + 0.1)))
        time.sleep(0.005)
    assert counts[-1] == 2, "the newcomer arrives with a later search"
    assert counts.count(1) >= 2, "frames kept flowing, with the known face, while it searched"
    analyzer.close()


def test_the_classification_budget_reads_the_stalest_faces_first(face_patch, monkeypatch):
    analyzer = FrameAnalyzer(
        smoothing_s=0,
        detect_every_s=0,
        classify_every_s=0,
        classify_per_s=10.0,
        background_search=False,
    )
    calls = []
    original = analyzer.classifier.predict_proba
    monkeypatch.setattr(
        analyzer.classifier,
        "predict_proba",
        lambda crops: calls.append(len(crops)) or original(crops),
    )
    frame = _scene(face_patch, [(20, 20), (250, 20), (480, 20), (20, 260), (250, 260)], (480, 700))
    for step in range(6):
        faces = analyzer.analyze(frame, step * 0.1)
        assert len(faces) == 5 and all(f.classified for f in faces)
    assert calls == [5, 1, 1, 1, 1, 1]  # all at first, then 10 faces/s: one per 0.1 s frame
    ages = [analyzer.smoother.age_s(f.track_id, 0.5) for f in faces]
    assert sorted(ages) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])  # round robin, stalest first


def test_landmarks_sit_inside_their_faces(analyzer, astronaut_bgr):
    analyzer.reset()
    (face,) = analyzer.analyze(astronaut_bgr)
    assert face.landmarks is not None and face.landmarks.shape == (5, 2)
    x, y, w, h = face.box
    assert (face.landmarks[:, 0] > x).all() and (face.landmarks[:, 0] < x + w).all()
    assert (face.landmarks[:, 1] > y).all() and (face.landmarks[:, 1] < y + h).all()
    left_eye, right_eye = face.landmarks[:2]
    assert left_eye[0] < right_eye[0] and abs(left_eye[1] - right_eye[1]) < 0.1 * h


def test_haar_gives_no_landmarks(astronaut_bgr):
    (face,) = exact_analyzer(detector="haar").analyze(astronaut_bgr)
    assert face.landmarks is None
