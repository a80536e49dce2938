"""The soak benchmark's bookkeeping, on a short stream (its figures are for the script)."""

from __future__ import annotations

from fer_core.soak import soak


def test_a_short_soak_stores_one_row_per_person_and_second(tmp_path):
    result = soak(0.5, faces=10, fps=5, sample_s=10, save_every_s=0.05, folder=tmp_path)
    assert result["face_detections"] == 10 * 5 * 30  # every reading counted
    assert result["face_rows"] == 10 * 30  # one per person (none left yet) and second
    assert result["timeline_rows"] == 30
    assert result["face_rows_at_3h"] == 10 * 3 * 3600
    assert [sample["stream_min"] for sample in result["samples"]] == [0.0, 0.17, 0.33]
    assert all(sample["rss_mb"] > 0 and sample["db_mb"] > 0 for sample in result["samples"])
    assert result["db_mb"] > 0 and result["faces_csv_mb"] > 0
    assert list(tmp_path.iterdir()) == []  # the database is removed
