"""Track ids over synthetic face motion: entering, leaving, crossing, briefly missed."""

import numpy as np
import pytest

from fer_core.motion import FlowTracker
from fer_core.synthetic import crowd_scene
from fer_core.tracking import FaceTracker, Handover


def _box(cx: float, cy: float, size: float = 60) -> list[float]:
    return [cx - size / 2, cy - size / 2, size, size]


def _every_box(**kwargs) -> FaceTracker:
    """A tracker for which every box is a person at once (the id logic on its own)."""
    return FaceTracker(confirm_hits=1, confirm_s=0, **kwargs)


def test_ids_are_stable_for_moving_faces_and_new_faces_get_new_ids():
    tracker = _every_box()
    first = tracker.update(np.array([_box(100, 100), _box(400, 100)]))
    assert sorted(first) == [1, 2]
    for step in range(1, 20):
        ids = tracker.update(np.array([_box(100 + 5 * step, 100), _box(400, 100 + 4 * step)]))
        assert list(ids) == list(first)
    ids = tracker.update(np.array([_box(195, 100), _box(400, 180), _box(250, 300)]))
    assert list(ids[:2]) == list(first) and ids[2] == 3
    assert tracker.faces_seen == 3


def test_order_of_detections_does_not_matter():
    tracker = FaceTracker()
    a, b = _box(100, 100), _box(300, 100)
    ids = tracker.update(np.array([a, b]))
    assert list(tracker.update(np.array([b, a]))) == list(ids[::-1])


def test_a_new_face_is_a_person_only_once_confirmed():
    tracker = FaceTracker(confirm_hits=2, confirm_s=0.5)
    (face,) = tracker.update(np.array([_box(100, 100)]), time_s=0.0)
    assert tracker.faces_seen == 0 and not tracker.snapshot()[3].any()
    assert tracker.update(np.array([_box(102, 100)]), time_s=0.2)[0] == face
    assert tracker.faces_seen == 0  # seen twice, but within 0.5 s
    assert tracker.update(np.array([_box(104, 100)]), time_s=0.6)[0] == face
    assert tracker.faces_seen == 1 and tracker.snapshot()[3].all()


def test_one_off_false_detections_never_count():
    tracker = FaceTracker()
    for k in range(30):  # a real face, and a flicker somewhere else in a 1080p frame each time
        flicker = _box(300 + 397 * k % 1600, 60 + 211 * k % 1000, size=40)
        tracker.update(np.array([_box(100, 100), flicker]), time_s=float(k))
    assert tracker.faces_seen == 1
    assert len(tracker.snapshot()[0]) <= 2  # tentative tracks end at their first miss


def test_a_confirmed_face_that_turns_away_keeps_its_id_but_a_long_absence_does_not():
    tracker = FaceTracker(keep_lost_s=5)
    for k in range(3):
        (face,) = tracker.update(np.array([_box(100, 100)]), time_s=float(k))
    for k in range(3, 8):  # away for five searches
        assert len(tracker.update(np.empty((0, 4)), time_s=float(k))) == 0
    assert tracker.update(np.array([_box(104, 100)]), time_s=8.0)[0] == face
    for k in range(9, 16):
        tracker.update(np.empty((0, 4)), time_s=float(k))
    assert tracker.update(np.array([_box(104, 100)]), time_s=16.0)[0] != face
    assert tracker.faces_seen == 1  # the newcomer is still tentative


def test_a_returning_face_is_found_farther_away_the_longer_it_was_gone():
    tracker = FaceTracker(max_cost=1.0, gate_per_s=1.0, max_gate=3.0)
    for k in range(3):
        (face,) = tracker.update(np.array([_box(100, 100)]), time_s=float(k))
    tracker.update(np.empty((0, 4)), time_s=3.0)
    # Two face sizes away, two seconds after it was last found: within the widened gate.
    assert tracker.update(np.array([_box(220, 100)]), time_s=4.0)[0] == face
    tracker.update(np.empty((0, 4)), time_s=5.0)
    # Four face sizes away: beyond max_gate however long it was gone.
    assert tracker.update(np.array([_box(520, 100)]), time_s=9.0)[0] != face


def test_sparse_samples_of_a_walking_person_stay_one_person():
    # Confirmed while standing, then walking 150 px a second, searched once a second: 2.5
    # face sizes between searches, more than the first round's gate allows.
    tracker = FaceTracker()
    ids = {int(tracker.update(np.array([_box(100, 300)]), time_s=float(k))[0]) for k in (0, 1)}
    for k in range(1, 8):
        ids.add(int(tracker.update(np.array([_box(100 + 150 * k, 300)]), time_s=1.0 + k)[0]))
    assert len(ids) == 1 and tracker.faces_seen == 1


def test_a_well_matched_face_is_never_taken_by_a_lost_neighbour():
    tracker = FaceTracker()
    for k in range(3):
        _, stays = tracker.update(np.array([_box(100, 100), _box(180, 100)]), time_s=float(k))
    tracker.update(np.array([_box(180, 100)]), time_s=3.0)  # the first is hidden
    ids = tracker.update(np.array([_box(182, 100)]), time_s=4.0)
    assert ids.tolist() == [stays]


def test_crossing_faces_keep_their_ids():
    tracker = FaceTracker()
    left_to_right, right_to_left = tracker.update(np.array([_box(100, 200), _box(500, 210)]))
    for step in range(1, 41):
        x = 10 * step
        ids = tracker.update(np.array([_box(100 + x, 200), _box(500 - x, 210)]))
        assert list(ids) == [left_to_right, right_to_left], f"swapped at step {step}"


def test_a_face_that_leaves_and_another_that_enters_elsewhere_are_different():
    tracker = FaceTracker()
    (first,) = tracker.update(np.array([_box(100, 100)]))
    (second,) = tracker.update(np.array([_box(600, 400)]))
    assert second != first


def test_assignment_never_trades_a_valid_pairing_for_a_rejected_one():
    # Costs (centre distance in face sizes): A-a 0.95, B-a 0.05, B-b 0.90, A-b 1.10 (> gate).
    # The cheapest total pairs B-a and A-b, but A-b is over the gate; A-a + B-b is valid.
    tracker = FaceTracker(max_cost=1.0, max_gate=1.0)
    track_a, track_b = tracker.update(np.array([_box(500, 500, 100), _box(600, 500, 100)]))
    ids = tracker.update(np.array([_box(595, 500, 100), _box(570, 584.85, 100)]))
    assert list(ids) == [track_a, track_b] and tracker.faces_seen == 2


def test_reset_starts_a_new_stream():
    tracker = _every_box()
    tracker.update(np.array([_box(100, 100), _box(300, 100)]))
    tracker.reset()
    assert tracker.faces_seen == 0
    assert list(tracker.update(np.array([_box(100, 100)]))) == [1]


def test_settings_are_checked():
    with pytest.raises(ValueError, match="confirm_hits"):
        FaceTracker(confirm_hits=0)
    with pytest.raises(ValueError, match="max_gate"):
        FaceTracker(max_cost=2.0, max_gate=1.0)


def test_optical_flow_moves_boxes_with_their_faces_and_measures_the_camera_pan():
    canvas, boxes = crowd_scene(1000, 400, n_faces=12, face_px=(30, 40), seed=5)
    inside = boxes[boxes[:, 0] + boxes[:, 2] < 900]
    flow = FlowTracker()
    flow.remember(np.ascontiguousarray(canvas[:, :900]))
    moved, camera = flow.step(np.ascontiguousarray(canvas[:, 7:907]), inside)  # a 7 px pan
    np.testing.assert_allclose(camera, [-7, 0], atol=0.5)
    np.testing.assert_allclose(moved[:, 0], inside[:, 0] - 7, atol=1.0)
    np.testing.assert_allclose(moved[:, 1:], inside[:, 1:], atol=1.0)
    flow.reset()
    same, none = flow.step(canvas[:, :900], inside)  # nothing remembered: boxes stay
    assert np.array_equal(same, inside) and not none.any()


def test_tracks_can_be_moved_between_updates():
    tracker = FaceTracker()
    for k in range(2):
        tracker.update(np.array([[10, 10, 20, 20], [100, 10, 20, 20]]), time_s=float(k))
    ids, boxes, visible, _ = tracker.snapshot()
    assert ids.tolist() == [1, 2] and visible.all()
    tracker.move(boxes + np.array([5, 0, 0, 0]))
    assert tracker.snapshot()[1][:, 0].tolist() == [15, 105]
    assert tracker.update(np.array([[16, 10, 20, 20]])).tolist() == [1]
    assert tracker.snapshot()[2].tolist() == [True, False]  # the second was missed
    with pytest.raises(ValueError, match="expected 2 boxes"):
        tracker.move(np.zeros((1, 4)))


def test_a_handover_gives_people_found_in_place_their_ids_back_and_counts_only_newcomers():
    tracker = FaceTracker()
    handover = Handover(np.array([4, 7]), np.array([_box(100, 100), _box(400, 100)]), 9, 12)
    tracker.resume(handover, time_s=50.0)
    assert tracker.faces_seen == 12 and not tracker.snapshot()[2].any()  # lost until found
    # The first search: one person a few pixels from where they were, a newcomer far off.
    ids = tracker.update(np.array([_box(106, 98), _box(700, 300)]), time_s=50.0)
    assert list(ids) == [4, 9]
    assert tracker.faces_seen == 12  # the newcomer is tentative
    ids = tracker.update(np.array([_box(106, 98), _box(700, 300)]), time_s=51.0)
    assert list(ids) == [4, 9] and tracker.faces_seen == 13
    # Person 7 was not found: lost, and gone after keep_lost_s like any lost person.
    tracker.update(np.array([_box(106, 98), _box(700, 300)]), time_s=50.0 + 11.0)
    assert 7 not in tracker.snapshot()[0].tolist()
    assert tracker.update(np.array([_box(400, 100)]), time_s=62.0)[0] == 10


def test_a_handover_gate_does_not_widen_with_the_time_nobody_watched():
    tracker = FaceTracker()
    tracker.resume(Handover(np.array([1]), np.array([_box(100, 100)]), 2, 1), time_s=30.0)
    # Two face sizes away at the first search: someone else, though 30 s of stream passed.
    assert tracker.update(np.array([_box(220, 100)]), time_s=30.0)[0] == 2


def test_a_handover_carries_people_out_of_view_as_long_away_as_they_were():
    old = FaceTracker()
    for time_s in (0.0, 1.0):
        old.update(np.array([_box(100, 100), _box(600, 100), _box(1100, 100)]), time_s)
    old.update(np.array([_box(100, 100), _box(600, 100)]), time_s=2.0)  # 3 turned away
    old.update(np.array([_box(100, 100), _box(1500, 400)]), time_s=5.0)  # 2 too; a newcomer
    handover = old.handover(time_s=5.5)
    # The newcomer is not a person yet; those out of view go with how long they have been.
    assert handover.ids.tolist() == [1, 2, 3] and handover.away_s.tolist() == [0.0, 3.5, 4.5]
    assert handover.next_id == 5 and handover.faces_seen == 3
    new = FaceTracker()
    new.resume(handover, time_s=30.0)
    # Two faces 1.5 face sizes from where persons 1 and 2 were last seen: beyond the gate of
    # someone in view at the handover, within that of someone away 3.5 s.
    ids = new.update(np.array([_box(190, 100), _box(690, 100)]), time_s=30.0)
    assert ids.tolist() == [5, 2]
    # Person 3 was away 4.5 s of the 10 kept: gone 5.5 s later, though still counted.
    new.update(np.array([_box(690, 100)]), time_s=36.0)
    assert 3 not in new.snapshot()[0].tolist() and new.faces_seen == 3


def test_a_handover_is_checked_and_reset_forgets_it():
    tracker = FaceTracker()
    with pytest.raises(ValueError, match="2 ids has 1 boxes and 2 times away"):
        tracker.resume(Handover(np.array([1, 2]), np.array([_box(0, 0)]), 3, 2))
    with pytest.raises(ValueError, match="1 ids has 1 boxes and 2 times away"):
        tracker.resume(Handover(np.array([1]), np.array([_box(0, 0)]), 3, 2, np.zeros(2)))
    with pytest.raises(ValueError, match="times away must be >= 0"):
        tracker.resume(Handover(np.array([1]), np.array([_box(0, 0)]), 3, 2, np.array([-1.0])))
    with pytest.raises(ValueError, match="distinct and positive"):
        tracker.resume(Handover(np.array([3, 3]), np.array([_box(0, 0)] * 2), 4, 2))
    tracker.resume(Handover(np.array([5]), np.array([_box(0, 0)]), 2, 5))  # next_id too low
    assert tracker.faces_seen == 5
    assert tracker.update(np.array([_box(500, 500)]))[0] == 6
    tracker.reset()
    assert tracker.faces_seen == 0 and tracker.update(np.array([_box(0, 0)]))[0] == 1
