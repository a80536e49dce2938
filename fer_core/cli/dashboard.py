"""Start the dashboard (Streamlit) with the settings of .streamlit/config.toml.

fer-core dashboard [STREAMLIT OPTION ...]
e.g. --server.port 8502, or --server.sslCertFile cert.pem --server.sslKeyFile key.pem to
serve it over HTTPS. Streamlit's own options pass through and win over the shipped settings.
The password, session database and ICE servers come from .streamlit/secrets.toml in the
folder it is started from, or from the environment (see the README). Same as
``streamlit run dashboard/app.py`` from a clone, which keeps working.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from typing import Any

from fer_core.cli import quiet


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        usage="%(prog)s [-h] [--verbose] [STREAMLIT OPTION ...]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    quiet.add_option(parser)
    return parser


def streamlit_flags(settings: dict[str, Any], prefix: str = "") -> list[str]:
    """A config.toml's settings as ``streamlit run`` flags: ``--server.headless=true``; a list
    gives the flag once per item, as Streamlit's options that take several values want."""
    flags = []
    for key, value in settings.items():
        if isinstance(value, dict):
            flags += streamlit_flags(value, f"{prefix}{key}.")
            continue
        for item in value if isinstance(value, list) else [value]:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            flags.append(f"--{prefix}{key}={text}")
    return flags


def streamlit_command(options: list[str]) -> list[str]:
    """``python -m streamlit run`` on the shipped app, with the shipped settings as flags,
    less those that ``options`` (passed on after them) set itself."""
    from fer_core.shipped import shipped_folder

    config = shipped_folder(".streamlit") / "config.toml"
    given = {option.split("=")[0] for option in options if option.startswith("--")}
    shipped = [
        flag
        for flag in streamlit_flags(tomllib.loads(config.read_text()))
        if flag.split("=")[0] not in given
    ]
    app = shipped_folder("dashboard") / "app.py"
    return [sys.executable, "-m", "streamlit", "run", str(app), *shipped, *options]


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Becomes the Streamlit server: ``os.execv`` replaces this process with it."""
    _, options = build_parser(prog).parse_known_args(argv)
    command = streamlit_command(options)
    os.execv(command[0], command)
