"""`rtc fmt`: the one canonical layout of a `.rt` file.

The layout is the one the README's examples use:

- two spaces of indentation per level; one statement a line in a block,
  unless the block was written on one line and still fits there;
- in a run of statements not separated by a blank line, the `=` of
  `name = value` statements (attributes and steps) line up, and so do the
  `{` of one-line sub-blocks (`inputs  { ... }`) whose names are not longer;
- one blank line between top-level blocks; blank lines inside a block are
  kept (several become one), none after `{` or before `}`;
- `f(a = 1, b = 2)`, `[1, 2]`, `{ K = "v" }`, `name: type = default`;
- a block, list, map or call written on one line stays on one line while
  it fits in `LINE_WIDTH` columns and holds no comment; otherwise it is
  broken, one item a line, each item followed by a comma;
- trailing comments on consecutive lines line up, two spaces after the
  longest line's code.

Comments, strings (including `\"\"\"` strings, byte for byte), numbers as
written, and the order of everything are kept. The formatter works on Lark's
concrete tree (not `rtc.dsl.ast`, which drops comments and spelling), from the
same parser instance as `rtc.dsl.parser`, whose lexer hands over the comments
it skips (`rtc.dsl.parser.concrete_tree`). A file
that does not parse cleanly is refused with the parser's own diagnostics, so
formatting never changes what a file means.
"""

from __future__ import annotations

import re

from lark import Token, Tree

LINE_WIDTH = 100
INDENT = "  "

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_PORT_KINDS = ("port_decl", "bare_port")
_ASSIGN_KINDS = ("assign", "command_attr")


def format_rt(text: str, file: str = "<text>") -> str:
    """The canonical layout of `text`; raise `CompileError` when it does not parse.

    A file whose lines end in CRLF keeps CRLF (so a multi-line string keeps its `\r\n`),
    and the result must mean what `text` means (the same syntax tree, spans aside):
    otherwise `RtcError`, and the caller leaves the file as it is.
    """
    from rtc.dsl.dump import to_data
    from rtc.dsl.parser import concrete_tree, parse_rt

    meaning = to_data(parse_rt(text, file).blocks)  # the real front end's verdict, with its diagnostics
    crlf = "\r\n" in text
    body = text.replace("\r\n", "\n")
    tree, comments = concrete_tree(body)
    formatted = _Formatter(body, comments).module(tree)
    if crlf:
        formatted = formatted.replace("\n", "\r\n")
    if formatted != text and to_data(parse_rt(formatted, file).blocks) != meaning:
        from rtc.base.diagnostics import RtcError

        raise RtcError(f"{file}: formatting would change what the file means (mixed line ends inside a string?); "
                       "it is left as it is", hint="use one kind of line end throughout the file")
    return formatted


# ---------------------------------------------------------------- positions


def _start(x) -> int:
    return x.start_pos if isinstance(x, Token) else x.meta.start_pos


def _end(x) -> int:
    return x.end_pos if isinstance(x, Token) else x.meta.end_pos


def _line(x) -> int:
    return x.line if isinstance(x, Token) else x.meta.line


def _end_line(x) -> int:
    return x.end_line if isinstance(x, Token) else x.meta.end_line


def _present(children) -> list:
    return [c for c in children if c is not None]


# ---------------------------------------------------------------- the formatter


class _Entry:
    """One line-level element of a body: a statement, a comment on its own line, or a blank line."""

    __slots__ = ("kind", "text", "comment", "node")

    def __init__(self, kind: str, text: str = "", comment: str | None = None, node=None):
        self.kind, self.text, self.comment, self.node = kind, text, comment, node


class _Formatter:
    def __init__(self, text: str, comments: list[Token]):
        self.text = text
        unique = {c.start_pos: c for c in comments}  # the contextual lexer may report one twice
        self.comments = [unique[k] for k in sorted(unique)]
        self.next_comment = 0

    # -- comments

    def _take_before(self, pos: int) -> list[Token]:
        taken = []
        while self.next_comment < len(self.comments) and self.comments[self.next_comment].start_pos < pos:
            taken.append(self.comments[self.next_comment])
            self.next_comment += 1
        return taken

    def _has_comment(self, start: int, end: int) -> bool:
        for c in self.comments[self.next_comment :]:
            if c.start_pos >= end:
                return False
            if c.start_pos >= start:
                return True
        return False

    def _blank_between(self, end: int, start: int) -> bool:
        return bool(_BLANK_LINE.search(self.text, end, max(end, start)))

    # -- bodies: a sequence of statements or items, one a line

    def _entries(self, items, open_line: int, open_end: int, close_pos: int, render) -> tuple[str | None, list[_Entry]]:
        """Lay out `items` one a line, with the comments among them.

        Returns the comment that trails the opening line (`{  # ...`) and the entries.
        `render(item) -> str` renders one item (it may span several lines).
        """
        opener_comment = None
        entries: list[_Entry] = []
        last_line, last_end = open_line, open_end

        def place_comments(comments):
            nonlocal opener_comment, last_line, last_end
            for c in comments:
                text = str(c).rstrip()
                if c.line == last_line and entries and entries[-1].kind == "item" and entries[-1].comment is None:
                    entries[-1].comment = text
                elif c.line == open_line and not entries and opener_comment is None:
                    opener_comment = text
                else:
                    if entries and self._blank_between(last_end, c.start_pos):
                        entries.append(_Entry("blank"))
                    entries.append(_Entry("comment", text))
                # A comment left over from inside the last item does not move the position back.
                if c.end_pos > last_end:
                    last_line, last_end = c.line, c.end_pos

        for item in items:
            place_comments(self._take_before(_start(item)))
            if entries and self._blank_between(last_end, _start(item)):
                entries.append(_Entry("blank"))
            entries.append(_Entry("item", render(item), node=item))
            last_line, last_end = _end_line(item), _end(item)
        place_comments(self._take_before(close_pos))
        return opener_comment, entries

    @staticmethod
    def _lines(entries: list[_Entry], indent: str) -> list[str]:
        """Entries -> text lines at `indent`, trailing comments of consecutive lines lined up."""
        out: list[str] = []
        i = 0
        while i < len(entries):
            entry = entries[i]
            if entry.kind == "blank":
                out.append("")
            elif entry.kind == "comment":
                out.append(indent + entry.text)
            elif entry.comment is None or "\n" in entry.text:
                text = indent + entry.text
                out.append(text + (f"  {entry.comment}" if entry.comment else ""))
            else:
                run = [entry]
                while (
                    i + 1 < len(entries)
                    and entries[i + 1].kind == "item"
                    and entries[i + 1].comment is not None
                    and "\n" not in entries[i + 1].text
                ):
                    i += 1
                    run.append(entries[i])
                column = max(len(e.text) for e in run) + 2
                out += [f"{indent}{e.text.ljust(column)}{e.comment}" for e in run]
            i += 1
        return out

    # -- top level

    def module(self, tree: Tree) -> str:
        items = _present(tree.children)
        _, entries = self._entries(items, 0, 0, len(self.text) + 1, lambda item: self._top(item))
        # One blank line around every block; its leading comments stay with it.
        spaced: list[_Entry] = []
        for i, entry in enumerate(entries):
            if entry.kind == "item" and entry.node.data == "block":
                j = len(spaced)
                while j > 0 and spaced[j - 1].kind == "comment":
                    j -= 1
                if j > 0 and spaced[j - 1].kind != "blank":
                    spaced.insert(j, _Entry("blank"))
                spaced.append(entry)
                if i + 1 < len(entries) and entries[i + 1].kind != "blank":
                    spaced.append(_Entry("blank"))
            else:
                spaced.append(entry)
        lines = self._lines(spaced, "")
        return "\n".join(lines).rstrip("\n") + "\n" if lines else ""

    def _top(self, node: Tree) -> str:
        if node.data == "namespace_decl":
            return f"namespace {node.children[0]}"
        if node.data == "import_decl":
            path, *alias = [c for c in node.children if c is not None]
            return f"import {path}" + (f" as {alias[0]}" if alias else "")
        kind_tree, name, *items = node.children
        head = f"{kind_tree.children[0]} {name}"
        body, _ = self._block_body(_present(items), name, node, "", len(head))
        return f"{head} {{" + body

    # -- blocks

    def _block_body(self, items, name: Token, node: Tree, indent: str, head_width: int) -> tuple[str, bool]:
        """The part of a block after its `{` (one statement a line, or all on this line), and whether on one line.

        `head_width` is the width of what precedes ` {` on its line after `indent`.
        """
        inner = indent + INDENT
        if self._fits_on_one_line(node):
            flat = self._flat_body(items)
            if len(indent) + head_width + 2 + len(flat) <= LINE_WIDTH:
                return flat, True
        pads = self._alignment(items)
        opener, entries = self._entries(
            items, name.line, name.end_pos, _end(node), lambda item: self._stmt(item, inner, pads.get(id(item), 0))
        )
        if not entries and opener is None:
            return "}", True
        head = f"  {opener}" if opener else ""
        return head + "\n" + "\n".join(self._lines(entries, inner)) + "\n" + indent + "}", False

    def _fits_on_one_line(self, node: Tree) -> bool:
        """Written on one line, with no comment inside: may stay on one line."""
        return _line(node) == _end_line(node) and not self._has_comment(_start(node), _end(node))

    def _flat_body(self, items) -> str:
        if not items:
            return "}"
        separator = ", " if all(i.data in _PORT_KINDS for i in items) else "  "
        return " " + separator.join(self._stmt(i, "", 0, flat=True) for i in items) + " }"

    def _alignment(self, items) -> dict[int, int]:
        """Name width to pad each `name = value` statement and one-line `name { ... }` to,
        per run of statements without a blank line between them: the longest `=` statement's name."""
        pads: dict[int, int] = {}
        run: list = []

        def close_run():
            # The `=` statements set the width; a longer sub-block name does not push them right.
            width = max((len(self._assign_name(i)) for i in run if i.data in _ASSIGN_KINDS), default=0)
            for i in run:
                pads[id(i)] = width
            run.clear()

        previous = None
        for item in items:
            if previous is not None and self._blank_between(_end(previous), _start(item)):
                close_run()
            if item.data in _ASSIGN_KINDS or (item.data == "sub_block" and self._fits_on_one_line(item)):
                run.append(item)
            previous = item
        close_run()
        return pads

    @staticmethod
    def _assign_name(item: Tree) -> str:
        return "command" if item.data == "command_attr" else str(item.children[0])  # assign, sub_block

    # -- statements

    def _stmt(self, node: Tree, indent: str, pad: int, flat: bool = False) -> str:
        kind = node.data
        c = node.children
        if kind in _ASSIGN_KINDS:
            name = self._assign_name(node)
            value, afters = (c[0], []) if kind == "command_attr" else (c[1], c[2:])
            prefix = f"{name.ljust(pad)} = "
            text = prefix + self._expr(value, indent, len(indent) + len(prefix), flat)
            for after in afters:
                text += " " + self._after(after, indent, flat)
            return text
        if kind == "sub_block":
            name, *items = c
            if flat:
                return f"{name} {{" + self._flat_body(_present(items))
            body, one_line = self._block_body(_present(items), name, node, indent, max(pad, len(name)))
            return f"{str(name).ljust(pad) if one_line else name} {{" + body
        if kind == "port_decl":
            name, type_, default = c
            text = f"{name}: {self._type(type_)}"
            if default is not None:
                text += " = " + self._expr(default, indent, len(indent) + len(text) + 3, flat)
            return text
        if kind == "bare_port":
            return str(c[0])
        if kind == "mount_stmt":
            host, container, readonly = c
            return f"mount {host} -> {container}" + (" readonly" if readonly is not None else "")
        if kind == "copy_stmt":
            return f"copy {c[0]} -> {c[1]}"
        if kind == "expose_stmt":
            port, host_port, host_ip, service = c
            text = f"expose {port}"
            if host_port is not None:
                text += f" -> {host_port}"
            if host_ip is not None:
                text += f" on {host_ip}"
            if service is not None:
                text += f" service {service}"
            return text
        if kind in ("daemon_stmt", "init_stmt"):
            keyword = "daemon" if kind == "daemon_stmt" else "init"
            return f"{keyword} " + self._expr(c[0], indent, len(indent) + len(keyword) + 1, flat)
        if kind == "command_stmt":
            prefix = f"command {c[0]} = "
            return prefix + self._expr(c[1], indent, len(indent) + len(prefix), flat)
        raise ValueError(f"rtc fmt: no layout for statement {kind!r}")  # a grammar rule this module misses

    def _after(self, node: Tree, indent: str, flat: bool) -> str:
        if node.data == "after_name":
            return f"after {node.children[0]}"
        return "after " + self._expr(node.children[0], indent, len(indent), flat)

    def _type(self, node: Tree) -> str:
        name, *inner = _present(node.children)
        return str(name) + ("[" + ", ".join(self._type(t) for t in inner) + "]" if inner else "")

    # -- expressions

    def _expr(self, node, indent: str, column: int, flat: bool = False) -> str:
        if isinstance(node, Token):  # not produced by the grammar today; keep as written
            return str(node)
        kind = node.data
        if kind in ("string", "number"):
            return str(node.children[0])
        if kind in ("true", "false", "null"):
            return kind
        if kind == "dotted":
            return ".".join(str(n) for n in node.children)
        if kind == "list":
            return self._container(node, _present(node.children), "[", "]", "[", "]", indent, column, flat, _line(node), _start(node) + 1)
        if kind == "map":
            return self._container(node, _present(node.children), "{ ", " }", "{", "}", indent, column, flat, _line(node), _start(node) + 1)
        if kind == "call":
            func, *args = node.children
            head = self._expr(func, indent, column)
            return head + self._container(
                node, _present(args), "(", ")", "(", ")", indent, column + len(head), flat, _end_line(func), _end(func) + 1
            )
        if kind == "map_entry":
            key, value = node.children
            return f"{key} = " + self._expr(value, indent, column + len(key) + 3, flat)
        if kind == "kwarg":
            name, value = node.children
            return f"{name} = " + self._expr(value, indent, column + len(name) + 3, flat)
        if kind == "posarg":
            return self._expr(node.children[0], indent, column, flat)
        raise ValueError(f"rtc fmt: no layout for expression {kind!r}")

    def _container(self, node, items, flat_open, flat_close, open_, close, indent, column, flat, open_line, open_end) -> str:
        """A list, map or call's arguments: on one line if it may and fits, else one item a line."""
        flat_text = (
            flat_open + ", ".join(self._expr(i, indent, 0, flat=True) for i in items) + flat_close
            if items
            else open_ + close
        )
        if flat:
            return flat_text
        first_line = flat_text.split("\n", 1)[0]
        if not self._written_across_lines(node, items, open_line) and column + len(first_line) <= LINE_WIDTH:
            return flat_text
        inner = indent + INDENT
        opener, entries = self._entries(
            items, open_line, open_end, _end(node), lambda item: self._expr(item, inner, len(inner)) + ","
        )
        if not entries and opener is None:
            return open_ + close
        head = f"{open_}  {opener}" if opener else open_
        return head + "\n" + "\n".join(self._lines(entries, inner)) + "\n" + indent + close

    def _written_across_lines(self, node, items, open_line: int) -> bool:
        """A line break between the brackets and the items or between two items, or a comment inside."""
        if self._has_comment(_start(node), _end(node)):
            return True
        if not items:
            return False
        if _line(items[0]) != open_line or _end_line(items[-1]) != _end_line(node):
            return True
        return any(_end_line(a) != _line(b) for a, b in zip(items, items[1:]))


__all__ = ["format_rt", "LINE_WIDTH"]
