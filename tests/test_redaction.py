"""No password in a message or a file: database and camera URLs are shown masked."""

from __future__ import annotations

import json

import pytest

from fer_core.batch import BatchError, run_batch
from fer_core.redaction import mask_credentials
from fer_core.sessions import SessionStore, SessionStoreError

PASSWORD = "hunter2"


CASES = {  # text: the same text masked
    "cannot open sqlite+pysqlite://admin:hunter2@/data/x.db: denied": (
        "cannot open sqlite+pysqlite://admin:***@/data/x.db: denied"
    ),
    "postgresql+psycopg://admin:hunter2@db:5432/fer": "postgresql+psycopg://admin:***@db:5432/fer",
    "rtsp://cam:hunter2@10.0.0.5:554/live 'rtsp://:pw@h/x'": (
        "rtsp://cam:***@10.0.0.5:554/live 'rtsp://:***@h/x'"
    ),
    "mysql://admin:p@ss/w:rd@db/fer": "mysql://admin:***@db/fer",  # unescaped @ and /
    "postgresql://admin@db/fer?sslmode=require&password=hunter2": (
        "postgresql://admin@db/fer?sslmode=require&password=***"
    ),
    "https://example.org:8443/a?x=1 by bob@example.org": (
        "https://example.org:8443/a?x=1 by bob@example.org"  # no password: unchanged
    ),
    "sqlite:////home/admin/sessions.db": "sqlite:////home/admin/sessions.db",
}


@pytest.mark.parametrize(("text", "masked"), CASES.items())
def test_urls_keep_user_and_host_but_not_the_password(text, masked):
    assert mask_credentials(text) == masked


def test_a_known_password_is_masked_wherever_it_is_quoted():
    quoted = "login failed for admin with hunter2 (p%40ss in the URL)"
    assert mask_credentials(quoted, "hunter2", None, "p@ss") == (
        "login failed for admin with *** (*** in the URL)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+pysqlite://admin:hunter2@/no/such/dir/x.db",  # SQLAlchemy refuses the form
        "postgresql://admin:hunter2@db:notaport/fer",  # a ValueError, before this fix
        "postgresql+nosuchdriver://admin:hunter2@db/fer",  # no such driver
    ],
)
def test_a_database_that_cannot_be_opened_is_named_without_its_password(url):
    with pytest.raises(SessionStoreError, match="cannot open the session database") as raised:
        SessionStore(url)
    message = str(raised.value)
    assert PASSWORD not in message and "admin:***@" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_batch_errors_and_files_hold_no_password(tmp_path):
    with pytest.raises(BatchError) as raised:
        run_batch([], tmp_path / "out", save_sessions=True, db=f"postgresql://a:{PASSWORD}@h:x/d")
    assert PASSWORD not in str(raised.value) and "a:***@h" in str(raised.value)

    camera = f"rtsp://cam:{PASSWORD}@10.0.0.5:554/live"
    result = run_batch([camera], tmp_path / "out")
    assert result.rows[0]["status"] == "failed"
    assert result.rows[0]["input"] == "rtsp://cam:***@10.0.0.5:554/live"
    for written in (result.index_csv, result.index_json):
        assert PASSWORD not in written.read_text(), written.name
    assert json.loads(result.index_json.read_text())["run"]["inputs"] == [result.rows[0]["input"]]
