"""Write the post-event report of saved sessions: report.html and report.pdf.

fer-core report SESSION_ID [SESSION_ID ...] --out DIR [--db PATH_OR_URL]

report.html is self-contained (interactive charts, opens offline); report.pdf has static
charts and its fonts embedded. Several sessions make one report, with a comparison of them.
Exit code: 0 written, 1 a session or the database could not be read (nothing is written),
2 a usage error.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import add_db_option, add_output_folder_option, command_parser


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__)
    parser.add_argument(
        "session_ids", nargs="+", type=int, metavar="SESSION_ID", help="saved sessions' ids"
    )
    add_output_folder_option(parser)
    add_db_option(parser)
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.events.report import write_report
    from fer_core.sessions import SessionNotFoundError, SessionStore, SessionStoreError

    try:
        store = SessionStore(args.db)
        paths = write_report(store, args.session_ids, args.out)
    except SessionNotFoundError as error:
        parser.exit(1, f"error: {error.args[0]} in {store.url}; nothing was written\n")
    except SessionStoreError as error:
        parser.exit(1, f"error: {error}\n")
    for path in paths.values():
        print(f"wrote {path}")
    return 0
