"""The dashboard's password gate through Streamlit's AppTest: every page, the throttle on wrong
passwords, the password from the environment, and the warning when nothing guards a server
that other machines can reach. The real-browser version is in ``test_browser.py``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import streamlit_webrtc.component
from streamlit import config
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from fer_core.sessions import SessionStore

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
PAGES = {
    "live": "Live audience",
    "cameras": "Room cameras",
    "video": "Analyze a recorded video",
    "sessions": "Sessions",
    "model": "Models",
    "about": "About & privacy",
}
SECRET_NAME = "Board meeting 7f3a"
PASSWORD = "correct horse 42"


@pytest.fixture(autouse=True)
def _keep_main(monkeypatch):
    """AppTest leaves the app script as ``__main__``, which multiprocessing's spawn would
    re-run in every child process of a later test (the batch pool's): put it back after."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture
def gate(monkeypatch):
    """The dashboard's ``gate`` module (the one AppTest's runs import), with a fresh throttle."""
    monkeypatch.syspath_prepend(str(APP.parent))
    module = importlib.import_module("gate")
    module.throttle.clear()
    yield module
    module.throttle.clear()


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    """A session database holding one session, as the app's only store."""
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_CORE_DB", str(path))
    monkeypatch.delenv("FER_CORE_PASSWORD", raising=False)
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: None)
    store = SessionStore(path)
    store.finish(store.create(SECRET_NAME, "video"), {"faces_seen": 3})
    return path


@pytest.fixture
def locked(gate, database) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.secrets["password"] = PASSWORD
    return app.run()


def _shown(app: AppTest) -> str:
    """Everything the app sent to the page (every element's message), as one text."""
    return "\n".join(
        str(getattr(node, "proto", "")) for root in (app.main, app.sidebar) for node in root
    )


def _ask_for(app: AppTest, page: str) -> AppTest:
    """Rerun asking for ``page`` by its hash, as any client can over the websocket
    (``switch_page`` refuses a page that is not registered, which is the point here)."""
    app._page_hash = calc_hash(page)
    return app.run()


def _sign_in(app: AppTest, password: str) -> AppTest:
    app.text_input[0].set_value(password)
    return app.button[0].click().run()


def test_every_page_shows_only_the_sign_in_form_until_the_password(locked, database):
    for page in PAGES:
        _ask_for(locked, page)
        assert not locked.exception, locked.exception
        assert not locked.title and not locked.dataframe and not locked.get("plotly_chart")
        assert [box.label for box in locked.text_input] == ["Password"]
        assert [button.label for button in locked.button] == ["Enter"]
        assert SECRET_NAME not in _shown(locked), page
    _sign_in(_ask_for(locked, "sessions"), PASSWORD)
    assert locked.title[0].value == "Sessions"  # the page asked for, once signed in
    assert SECRET_NAME in set(locked.dataframe[0].value["name"])
    for page, title in PAGES.items():
        assert locked.switch_page(f"views/{page}.py").run().title[0].value == title


def test_the_password_can_come_from_the_environment(gate, database, monkeypatch):
    monkeypatch.setenv("FER_CORE_PASSWORD", PASSWORD)
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.title and [box.label for box in app.text_input] == ["Password"]
    assert "Wrong password" in _sign_in(app, "hunter2").error[0].value and not app.title
    assert _sign_in(app, PASSWORD).title[0].value == "Live audience"


def test_wrong_passwords_lock_the_client_out_for_a_growing_delay(locked, gate):
    now = [1000.0]
    gate.throttle().clock = lambda: now[0]
    for _ in range(gate.FREE_ATTEMPTS - 1):
        assert _sign_in(locked, "guess").error[0].value == "Wrong password."
    assert "try again in 30 s" in _sign_in(locked, "guess").error[0].value
    # Locked out: not even the right password is checked, and nothing is shown.
    refused = _sign_in(locked, PASSWORD)
    assert "Too many wrong passwords" in refused.error[0].value and not refused.title
    now[0] += 31
    assert "try again in 60 s" in _sign_in(locked, "guess").error[0].value  # doubled
    now[0] += 61
    assert _sign_in(locked, PASSWORD).title[0].value == "Live audience"
    assert gate.throttle().wait_s("localhost") == 0  # signing in clears the count


def test_the_throttle_counts_per_client_doubles_caps_and_forgets(gate):
    now = [0.0]
    limits = gate.LoginThrottle(
        free_attempts=3, first_delay_s=10, max_delay_s=35, clock=lambda: now[0]
    )
    assert [limits.failed("10.0.0.7") for _ in range(6)] == [0, 0, 10, 20, 35, 35]
    assert limits.wait_s("10.0.0.7") == 35 and limits.wait_s("10.0.0.8") == 0
    now[0] += 20
    assert limits.wait_s("10.0.0.7") == 15
    limits.succeeded("10.0.0.7")
    assert limits.wait_s("10.0.0.7") == 0 and limits.failed("10.0.0.7") == 0
    limits.failed("10.0.0.9")
    limits.failed("10.0.0.9")
    now[0] += gate.FORGET_AFTER_S
    assert limits.failed("10.0.0.9") == 0  # an hour later its count starts again


@pytest.fixture
def address():
    """Set ``server.address`` for one test."""
    yield lambda value: config.set_option("server.address", value)
    config.set_option("server.address", None)


def test_an_open_server_without_a_password_warns_on_every_page(gate, database, address):
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    for page, title in PAGES.items():
        app.switch_page(f"views/{page}.py").run()
        assert app.title[0].value == title
        assert "No password is set" in app.warning[0].value, page
    address("127.0.0.1")
    assert not app.switch_page("views/about.py").run().warning


@pytest.mark.parametrize(
    ("value", "exposed"),
    [(None, True), ("", True), ("0.0.0.0", True), ("::", True), ("192.168.1.20", True),
     ("dashboard.example.org", True), ("localhost", False), ("127.0.0.1", False),
     ("127.0.0.2", False), ("::1", False), ("[::1]", False), ("unix:///run/fer.sock", False)],
)  # fmt: skip
def test_which_addresses_reach_beyond_this_machine(gate, address, value, exposed):
    address(value)
    assert gate.serving_beyond_localhost() is exposed


def test_no_warning_once_a_password_guards_the_server(locked):
    assert not locked.warning
    assert not _sign_in(locked, PASSWORD).warning
