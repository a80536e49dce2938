"""Agendas: CSV and chapter lists, offsets and clock times, and the errors bad files get."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fer_core.errors import FerCoreError
from fer_core.events.agenda import AgendaError, parse_agenda, read_agenda
from fer_core.events.segments import Segment


def test_csv_offsets_in_every_format_sorted_with_open_ends():
    text = (
        "start,end,title\n"
        "1:02:03,1:10:00,  Panel  \n"
        "95.5,,Keynote\n"
        "0,01:35.5,Welcome\n"
        '2:00,3:00,"Q&A, part 1"\n'
    )
    assert parse_agenda(text) == [
        Segment(0.0, 95.5, "Welcome"),
        Segment(95.5, None, "Keynote"),
        Segment(120.0, 180.0, "Q&A, part 1"),
        Segment(3723.0, 4200.0, "Panel"),
    ]


def test_bom_crlf_blank_lines_header_case_and_empty_titles():
    text = "\ufeffStart, End ,TITLE\r\n\r\n0,60,\r\n60,,  \r\n"
    assert parse_agenda(text) == [Segment(0.0, 60.0, "Segment 1"), Segment(60.0, None, "Segment 2")]


def test_chapter_lists_with_each_separator_end_where_the_next_starts():
    text = "00:00 Intro\n0:05:30 - Keynote\n12:00 Q&A\n7:00 \u2013 Demo\n8:00: Break\n9:00 | Talk\n"
    segments = parse_agenda(text)
    assert [s.title for s in segments] == ["Intro", "Keynote", "Demo", "Break", "Talk", "Q&A"]
    assert [s.start_s for s in segments] == [0, 330, 420, 480, 540, 720]
    assert [s.end_s for s in segments] == [330, 420, 480, 540, 720, None]


def test_clock_times_are_seconds_from_a_live_sessions_start():
    cest = timezone(timedelta(hours=2))
    started = datetime(2024, 5, 1, 9, 0, 30, tzinfo=cest)
    text = (
        "start,end,title\n"
        "09:15,09:30:15,Welcome\n"
        "2024-05-01T07:45:00+00:00,,Keynote\n"  # 09:45 in the session's zone
        "2024-05-01T10:00,,Panel\n"  # naive: the session's zone
    )
    assert parse_agenda(text, started) == [
        Segment(870.0, 1785.0, "Welcome"),
        Segment(2670.0, None, "Keynote"),
        Segment(3570.0, None, "Panel"),
    ]
    assert parse_agenda("09:00:30 Doors\n09:10 Talk", started) == [
        Segment(0.0, 570.0, "Doors"),
        Segment(570.0, None, "Talk"),
    ]


def test_clock_times_use_the_session_day_in_its_own_zone():
    # 23:30 UTC on 1 May is 08:30 on 2 May in Tokyo: "09:00" is half an hour in.
    started = datetime(2024, 5, 1, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=9)))
    assert parse_agenda("09:00 Talk", started) == [Segment(1800.0, None, "Talk")]


def test_naive_start_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_agenda("09:00 Talk", datetime(2024, 5, 1, 9, 0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\ufeff \r\n\n", "empty"),
        ("start,end,title\n", "no segments"),
        ("0,60,Intro\n60,,Talk\n", "line 1: no header"),
        ("Our agenda\n00:00 Intro\n", "line 1: no header"),
        ("start,title\n0,Intro\n", "line 1: the header lacks end"),
        ("start,end,title\n0,60,A\n\nsoon,,B\n", "line 4: cannot read the time 'soon'"),
        ("start,end,title\n1:75,,A\n", "line 2: cannot read the time '1:75'"),
        ("start,end,title\n1:60:00,,A\n", "line 2: cannot read the time '1:60:00'"),
        ("start,end,title\n-5,,A\n", "line 2: cannot read the time '-5'"),
        ("start,end,title\nnan,,A\n", "line 2: cannot read the time 'nan'"),
        ("start,end,title\n,60,A\n", "line 2: no start time"),
        ("start,end,title\n2:00,1:00,A\n", "line 2: end 1:00 is not after start 2:00"),
        ("start,end,title\n60,60,A\n", "line 2: end 60 is not after start 60"),
        ("start,end,title\n0,60,A,extra\n", "line 2: 4 fields, the header has 3"),
        (
            "start,end,title\n0,120,A\n60,,B\n",
            "line 2 \\(A\\) overlaps line 3 \\(B, starting 60\\)",
        ),
        ("start,end,title\n60,,A\n1:00,,B\n", "lines 2 and 3 both start at 1:00"),
        ("00:00 Intro\nKeynote at ten\n", "line 2: no time at the start of 'Keynote at ten'"),
        ("00:00 Intro\n0:00 Again\n", "lines 1 and 2 both start at 0:00"),
    ],
)
def test_bad_agendas_name_the_line_and_the_fault(text, message):
    with pytest.raises(AgendaError, match=message) as caught:
        parse_agenda(text)
    assert isinstance(caught.value, FerCoreError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start,end,title\n08:59,,Early\n", "line 2: 08:59 is before the session's start"),
        ("start,end,title\n95,,Offset\n", "line 2: cannot read the time '95'"),
        ("start,end,title\n25:00,,Late\n", "line 2: cannot read the time '25:00'"),
        ("start,end,title\n2024-05-01T08:00:00+00:00,,A\n", "line 2: .* before the session"),
    ],
)
def test_bad_clock_times(text, message):
    started = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(AgendaError, match=message):
        parse_agenda(text, started)


def test_read_agenda_files(tmp_path):
    path = tmp_path / "agenda.csv"
    path.write_bytes("\ufeffstart,end,title\r\n0,30,Caf\u00e9\r\n".encode())
    assert read_agenda(path) == [Segment(0.0, 30.0, "Caf\u00e9")]

    with pytest.raises(AgendaError, match=r"no agenda file at .*missing\.csv"):
        read_agenda(tmp_path / "missing.csv")
    with pytest.raises(AgendaError, match="cannot read the agenda"):
        read_agenda(tmp_path)
    path.write_bytes(b"start,end,title\n0,30,Caf\xe9\n")  # Latin-1
    with pytest.raises(AgendaError, match=r"agenda.csv, line 2: not UTF-8 text \(byte 0xe9\)"):
        read_agenda(path)
    path.write_text("start,end,title\n0,30,A\n10,,B\n")
    with pytest.raises(AgendaError, match=r"agenda.csv, line 2 \(A\) overlaps line 3"):
        read_agenda(path)
