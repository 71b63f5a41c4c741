"""`rtc lsp`: the language server, over standard input and output."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lsp",
        help="run the language server (LSP over stdio) for editors",
        description=(
            "Speak the Language Server Protocol on standard input/output: diagnostics, hover, "
            "definitions, references, completion, outline, formatting and rename for .rt and rtc YAML files. "
            "Editors start it; see editors/vscode/ and docs/editor.md."
        ),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtc.base.diagnostics import RtcError

    try:
        from rtc.lsp.server import main
    except ImportError as exc:
        raise RtcError(f"the language server needs pygls and lsprotocol ({exc})", "pip install 'rtc[lsp]'") from None
    main()
    return 0
