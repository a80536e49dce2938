"""People, not detections: counts on generated footage with known people entering, leaving,
crossing and turning away, at every frame and at 3 samples a second."""

import json

import numpy as np
import pandas as pd
import pytest

from fer_core import FrameAnalyzer
from fer_core.batch import Settings, run_batch
from fer_core.batch.chunks import link_tracks, relabel
from fer_core.detectors import Detections
from fer_core.faces import Face, FaceAnnotator
from fer_core.synthetic import Walker, people_scene, write_people_video
from fer_core.video import analyze_video


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    return FrameAnalyzer(background_search=False)


@pytest.fixture(scope="module")
def one_person(tmp_path_factory):
    """Walks across the room, faces away for 1.5 s on the way, and walks on."""
    walker = Walker((60, 200), (580, 180), face_px=40, away=((2.0, 3.5),))
    path = tmp_path_factory.mktemp("people") / "one.mp4"
    return write_people_video(path, [walker], seconds=6, fps=15, width=640, height=360)


@pytest.mark.parametrize("sample_fps", [None, 3.0])
def test_one_person_is_one_person_at_every_frame_and_sampled(one_person, analyzer, sample_fps):
    result = analyze_video(one_person, sample_fps=sample_fps, analyzer=analyzer)
    assert result.summary["faces_seen"] == 1
    assert result.faces["track_id"].nunique() == 1
    per_frame = result.faces.groupby("time_s").size()
    assert (per_frame == 1).all()  # never two people at once
    facing = [t for t in result.frame_times if not 2.0 <= t < 3.5]
    assert len(per_frame) >= 0.9 * len(facing)  # and found whenever she faces the camera


def test_people_entering_leaving_and_crossing_are_each_counted_once(tmp_path, analyzer):
    walkers = [
        Walker((60, 150), (580, 170), face_px=36),  # crosses the next one
        Walker((580, 230), (60, 210), face_px=36),
        Walker((320, 80), face_px=30, enter_s=1.5),  # sits down later
        Walker((500, 300), face_px=30, leave_s=3.0),  # leaves early
    ]
    path = write_people_video(tmp_path / "four.mp4", walkers, 5, fps=15, width=640, height=360)
    for sample_fps in (None, 3.0):
        result = analyze_video(path, sample_fps=sample_fps, analyzer=analyzer)
        assert result.summary["faces_seen"] == 4, sample_fps


def test_a_fixed_camera_counts_the_people_in_view(tmp_path, analyzer):
    grid = [(120 + 150 * col, 110 + 150 * row) for row in range(4) for col in range(8)]
    walkers = [
        # Every fifth person looks away for two seconds, as people in an audience do.
        Walker(centre, face_px=34 + (i % 3) * 6, away=((1.5, 3.5),) if i % 5 == 0 else ())
        for i, centre in enumerate(grid)
    ]
    path = write_people_video(tmp_path / "room.mp4", walkers, 5, fps=10, width=1280, height=720)
    result = analyze_video(path, sample_fps=3.0, analyzer=analyzer)
    assert abs(result.summary["faces_seen"] - len(walkers)) <= 0.05 * len(walkers)
    assert result.summary["faces_in_view"] <= len(walkers)


def test_a_chunked_run_counts_the_people_of_one_pass(tmp_path, analyzer):
    walkers = [
        Walker((60, 150), (580, 170), face_px=36),
        Walker((320, 80), face_px=30, enter_s=2.5),
        Walker((500, 300), face_px=30, leave_s=5.0),
        Walker((150, 300), face_px=34, away=((3.5, 5.0),)),  # away across a chunk boundary
    ]
    path = write_people_video(tmp_path / "talk.mp4", walkers, 8, fps=10, width=640, height=360)
    whole = analyze_video(path, sample_fps=3.0, analyzer=analyzer).summary["faces_seen"]
    run_batch([path], tmp_path / "out", Settings(sample_fps=3.0, chunk_s=2.0))
    chunked = json.loads((tmp_path / "out" / "talk" / "summary.json").read_text())
    assert chunked["chunks"] == 4 and chunked["faces_seen"] == whole == len(walkers)


def test_a_false_detection_in_one_search_is_not_a_person(analyzer, monkeypatch):
    walker = Walker((200, 180), face_px=60)
    frames = [people_scene([walker], t / 10, 3, 640, 360)[0] for t in range(30)]
    real = analyzer.detect_faces

    def with_a_flicker(frame, *hints, **more_hints):
        found = real(frame, *hints, **more_hints)
        with_a_flicker.calls += 1
        if with_a_flicker.calls == 2:  # the second search also "finds" a lamp
            found = Detections(
                np.vstack([found.boxes, [[500, 40, 30, 30]]]), np.append(found.scores, 0.9)
            )
        return found

    with_a_flicker.calls = 0
    monkeypatch.setattr(analyzer, "detect_faces", with_a_flicker)
    analyzer.reset()
    shown = [analyzer.analyze(frame, t / 10) for t, frame in enumerate(frames)]
    lamp = [f for faces in shown for f in faces if f.box[0] >= 450]
    assert lamp and not any(f.confirmed for f in lamp)
    assert analyzer.faces_seen == 1


def test_tentative_faces_are_drawn_apart_and_always_blurred():
    frame = np.full((120, 400, 3), 128, np.uint8)
    probs = np.full(7, 1 / 7, np.float32)
    sure = Face((20, 20, 60, 60), probs, "happy", 1 / 7, 1)
    unsure = Face((300, 20, 60, 60), probs, "happy", 1 / 7, 2, confirmed=False)
    drawn = FaceAnnotator().annotate(frame, [sure, unsure])
    colours = {tuple(px) for px in drawn[20, 300:360]}
    assert colours == {(158, 158, 158)}  # a plain grey outline...
    assert (drawn[:19, 290:370] == 128).all()  # ...and no label above it
    assert (drawn[20, 20:80] != 128).any() and tuple(drawn[20, 50]) != (158, 158, 158)
    textured = np.random.default_rng(0).integers(0, 255, (120, 400, 3), np.uint8)
    blurred = FaceAnnotator().annotate(textured, [sure, unsure], blur=True)
    inside = (slice(30, 70), slice(310, 350))
    assert blurred[inside].std() < 0.5 * textured[inside].std()


def _rows(time_s: float, boxes: dict[int, tuple[int, int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [dict(time_s=time_s, track_id=t, x=x, y=y, w=w, h=h) for t, (x, y, w, h) in boxes.items()]
    )


def test_chunks_link_the_people_they_share():
    before = pd.concat(
        [_rows(t, {4: (100, 100, 40, 40), 7: (300, 100, 40, 40)}) for t in (9.0, 9.5)]
    )
    after = pd.concat(
        [
            _rows(9.0, {1_000_001: (102, 101, 40, 40), 1_000_002: (298, 99, 40, 40)}),
            _rows(9.5, {1_000_001: (103, 101, 40, 40), 1_000_002: (299, 99, 40, 40)}),
            _rows(10.0, {1_000_003: (500, 100, 40, 40)}),  # a newcomer after the boundary
        ]
    )
    links = link_tracks(before, after)
    assert links == {1_000_001: 4, 1_000_002: 7}
    assert relabel(after, links)["track_id"].tolist() == [4, 7, 4, 7, 1_000_003]
    assert link_tracks(before, _rows(9.0, {5: (600, 300, 40, 40)})) == {}
