"""analyze_video on generated footage, and on files that are not usable video."""

import av
import numpy as np
import pandas as pd
import pytest

from fer_core import FrameAnalyzer
from fer_core.analytics import TIMELINE_COLUMNS
from fer_core.detection import HaarFaceDetector
from fer_core.labels import CLASSES
from fer_core.synthetic import Walker, write_demo_video, write_people_video
from fer_core.video import FACE_COLUMNS, VideoError, analyze_video


@pytest.fixture(scope="module")
def analyzer() -> FrameAnalyzer:
    return FrameAnalyzer()


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory):
    return write_demo_video(
        tmp_path_factory.mktemp("video") / "two.mp4", seconds=2, fps=10, n_faces=2
    )


def test_every_frame_every_face(two_faces, analyzer):
    seen = []
    result = analyze_video(two_faces, progress=seen.append, analyzer=analyzer)
    assert tuple(result.faces.columns) == FACE_COLUMNS
    assert len(result.frame_times) == 20 and len(result.faces) == 40
    assert sorted(result.faces["track_id"].unique()) == [1, 2]
    np.testing.assert_allclose(result.faces[list(CLASSES)].sum(axis=1), 1, atol=1e-5)
    assert (result.faces["label"] == "happy").mean() > 0.9
    assert tuple(result.timeline.columns) == TIMELINE_COLUMNS
    assert result.timeline["time_s"].tolist() == [0.0, 1.0]
    assert result.timeline["n_faces"].tolist() == [2, 2]
    summary = result.summary
    assert summary["faces_seen"] == 2 and summary["frames_analyzed"] == 20
    assert summary["duration_s"] == pytest.approx(2.0, abs=0.15)
    assert summary["dominant"] == "happy" and summary["peak_positive"] is not None
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_sampling_analyzes_fewer_frames(two_faces, analyzer):
    result = analyze_video(two_faces, sample_fps=2, analyzer=analyzer)
    assert len(result.frame_times) == 4
    np.testing.assert_allclose(result.frame_times, [0.0, 0.5, 1.0, 1.5], atol=0.06)


def test_annotated_and_blurred_copy(two_faces, analyzer, tmp_path):
    out = tmp_path / "annotated.mp4"
    analyze_video(two_faces, analyzer=analyzer, annotated_path=out, blur=True, sample_fps=5)
    assert out.is_file() and not list(tmp_path.glob(".*partial*"))
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 20 and frames[0].shape == (360, 640, 3)


def _decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def test_blur_hides_every_face_in_every_frame_between_samples(analyzer, tmp_path):
    # One person crosses the frame (12 px a frame); another, facing away, turns to the camera
    # at 1.1 s: between two samples and two full searches, a face no track knows yet.
    walkers = [
        Walker((60, 120), (580, 120), face_px=80),
        Walker((400, 270), face_px=60, away=((0.0, 1.1),)),
    ]
    clip = write_people_video(
        tmp_path / "walk.mp4", walkers, seconds=3, fps=15, width=640, height=360
    )
    haar = HaarFaceDetector(min_neighbors=3, min_size=24)  # more eager than its default 5
    found = {}
    for blur in (False, True):
        out = tmp_path / f"blur-{blur}.mp4"
        analyze_video(
            clip,
            sample_fps=3,
            analyzer=FrameAnalyzer(analyzer.classifier, background_search=False),
            annotated_path=out,
            blur=blur,
        )
        found[blur] = [
            sum(_on_a_face(box, walkers, index / 15, 3) for box in haar.detect(frame))
            for index, frame in enumerate(_decoded(out))
        ]
    assert len(found[True]) == len(found[False]) == 45
    assert min(found[False]) >= 1 and found[False][-1] == 2  # unblurred: the faces show
    assert found[True] == [0] * 45


def _on_a_face(box: np.ndarray, walkers: list[Walker], time_s: float, seconds: float) -> bool:
    """Whether a detection sits on a face the footage shows: an eager Haar cascade also
    finds "faces" in the drawn label text, which is no person's face."""
    centre = box[:2] + box[2:] / 2
    return any(
        walker.facing(time_s)
        and np.all(np.abs(centre - walker.centre(time_s, seconds)) < 0.75 * walker.face_px)
        for walker in walkers
    )


def test_video_without_faces_gives_empty_well_formed_results(tmp_path, analyzer):
    path = write_demo_video(tmp_path / "empty.mp4", seconds=1, fps=5, n_faces=0)
    result = analyze_video(path, analyzer=analyzer)
    assert result.faces.empty and tuple(result.faces.columns) == FACE_COLUMNS
    assert result.faces["happy"].dtype == float and result.faces["track_id"].dtype == int
    assert len(result.timeline) == 1 and result.timeline.loc[0, "n_faces"] == 0
    assert result.summary["faces_seen"] == 0 and result.summary["frames_analyzed"] == 5
    assert pd.isna(result.timeline.loc[0, "valence"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable video"),
        (b"hello, I am a text file\n" * 50, "not a readable video"),
    ],
)
def test_non_video_files_are_clear_errors(tmp_path, content, message, analyzer):
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        analyze_video(path, analyzer=analyzer)


def test_truncated_video_is_a_clear_error_and_leaves_no_partial_output(
    two_faces, tmp_path, analyzer
):
    # The index sits at the front (faststart), so the file opens and decoding runs dry.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(two_faces.read_bytes()[: two_faces.stat().st_size // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4 (is truncated|could not be decoded)"):
        analyze_video(cut, analyzer=analyzer, annotated_path=tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".*partial*"))


def test_unwritable_annotated_output_is_not_blamed_on_the_input(two_faces, tmp_path, analyzer):
    with pytest.raises(VideoError, match="cannot write annotated video"):
        analyze_video(two_faces, analyzer=analyzer, annotated_path=tmp_path / "no" / "out.mp4")


def test_missing_file(tmp_path, analyzer):
    with pytest.raises(VideoError, match="does not exist"):
        analyze_video(tmp_path / "nowhere.mp4", analyzer=analyzer)
