"""A design sketch: components and arrows typed as text, turned into Graphviz DOT that is safe to draw.

Two ways to write one:

- **Lines**: one chain of components per line, ``client -> api -> ranker``. After the last
  component, ``: text`` labels the line's last arrow (``api -> ranker: top 500``). A line
  without an arrow is a component on its own; a line starting with ``#`` is a comment.
- **DOT**: text starting with ``digraph``, ``graph`` or ``strict`` is read as Graphviz DOT:
  statements, attribute lists, subgraphs and clusters.

Either way the DOT handed to the page is written by this module, never the user's text as
typed: names and labels are quoted and escaped, and only layout and style attributes are
kept. Links (``URL``, ``href``), images, file paths, style sheets and HTML-like labels
(``<...>``) are left out, so whatever is typed is drawn as text and nothing else. A sketch
too large to draw quickly, or one that cannot be read, raises :class:`SketchError` naming
the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SketchError

SKETCH_MAX_CHARS = 5_000
MAX_COMPONENTS = 60
MAX_ARROWS = 120
MAX_NAME_CHARS = 60  # a component name in the line syntax
MAX_LABEL_CHARS = 80  # an arrow's label in the line syntax
MAX_NESTING = 8  # subgraphs inside subgraphs (DOT)
TRUE = '"true"'  # the value of an attribute named without one ("[constraint]")

# "digraph {", "strict graph G {", 'digraph "my design" {' (not a component named "graph").
DOT_START = re.compile(r'^\s*(?:strict\s+)?(?:di)?graph\s*(?:[\w\u0080-\U0010ffff]+|"(?:[^"\\]|\\.)*")?\s*\{',
                       re.IGNORECASE)
# Attributes that only change layout and looks. Anything else (URL, href, target, tooltip, id,
# class, image, imagepath, shapefile, fontpath, stylesheet, comment, ...) is dropped.
ALLOWED_ATTRIBUTES = frozenset({
    "arrowhead", "arrowsize", "arrowtail", "bgcolor", "center", "color", "compound", "concentrate", "constraint",
    "dir", "fillcolor", "fixedsize", "fontcolor", "fontname", "fontsize", "group", "headlabel", "height", "label",
    "labelangle", "labeldistance", "labelfontcolor", "labelfontsize", "labeljust", "labelloc", "lhead", "ltail",
    "margin", "minlen", "newrank", "nodesep", "ordering", "pad", "penwidth", "peripheries", "rank", "rankdir",
    "ranksep", "ratio", "regular", "samehead", "sametail", "shape", "sides", "splines", "style", "taillabel",
    "weight", "width", "xlabel",
})
LINE_GRAPH_HEAD = (
    'graph [rankdir="LR", fontname="Helvetica,Arial,sans-serif", nodesep="0.35", ranksep="0.5"];',
    'node [shape="box", style="rounded", fontname="Helvetica,Arial,sans-serif", fontsize="12"];',
    'edge [fontname="Helvetica,Arial,sans-serif", fontsize="10", color="#5f6368"];',
)


@dataclass(frozen=True)
class Sketch:
    """A parsed sketch.

    Attributes:
        syntax: "lines", "dot" or "empty".
        dot: the DOT to draw (empty for an empty sketch).
        components: how many components (nodes) it names.
        arrows: how many arrows (edges) it draws.
        ignored: attributes left out of a DOT sketch (e.g. "URL"), for a notice.
    """

    syntax: str
    dot: str
    components: int = 0
    arrows: int = 0
    ignored: tuple[str, ...] = field(default=())


def quote(text: str) -> str:
    """Text as a DOT double-quoted string that shows exactly that text.

    Line breaks become spaces; backslashes are doubled so ``\\N`` or ``\\l`` stay text; a
    quote is escaped. A quoted string is never an HTML-like label, so markup stays text.
    """
    text = " ".join(text.split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_sketch(text: str) -> Sketch:
    """Read a sketch in either syntax (see the module's docstring).

    Raises:
        SketchError: the text is too long, too large to draw, or cannot be read; the message
            names the line and says how to fix it.
    """
    if not isinstance(text, str):
        raise SketchError(f"A sketch must be text, got {type(text).__name__}.")
    check_length(text)
    if not text.strip():
        return Sketch("empty", "")
    if is_dot(text):
        return _DotReader(text).read()
    return _read_lines(text)


def is_dot(text: str) -> bool:
    """Whether a sketch is written in DOT (it opens a graph, after any comment lines)."""
    return bool(DOT_START.match(_without_leading_comments(text)))


def check_length(text: str) -> str:
    """The text, when it is within ``SKETCH_MAX_CHARS``; otherwise a SketchError."""
    if len(text) > SKETCH_MAX_CHARS:
        raise SketchError(f"A sketch is limited to {SKETCH_MAX_CHARS:,} characters; this one has {len(text):,}. "
                          "Leave out detail, or split it into the notes.")
    return text


def _without_leading_comments(text: str) -> str:
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith(("#", "//"))):
        lines.pop(0)
    return "\n".join(lines)


def _limits(components: int, arrows: int) -> None:
    if components > MAX_COMPONENTS:
        raise SketchError(f"The sketch names {components} components; draw at most {MAX_COMPONENTS} "
                          "(group details into one box).")
    if arrows > MAX_ARROWS:
        raise SketchError(f"The sketch draws {arrows} arrows; draw at most {MAX_ARROWS}.")


# -- the line syntax ---------------------------------------------------------------------------------
_LABEL_SEPARATOR = re.compile(r":(?:\s|$)")


def _read_lines(text: str) -> Sketch:
    ids: dict[str, str] = {}  # component name -> its DOT id (n1, n2, ... in order of appearance)
    edges: list[tuple[str, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        parts = stripped.split("->")
        label = ""
        if len(parts) > 1:
            found = _LABEL_SEPARATOR.search(parts[-1])
            if found:
                label = " ".join(parts[-1][found.end():].split())
                parts[-1] = parts[-1][:found.start()]
        names = [" ".join(p.split()) for p in parts]
        if not all(names):
            raise SketchError(f"Line {number}: an arrow needs a component on each side, as in 'client -> api'.")
        for name in names:
            if len(name) > MAX_NAME_CHARS:
                raise SketchError(f"Line {number}: the component name '{name[:30]}…' is {len(name)} characters long; "
                                  f"keep names to {MAX_NAME_CHARS}.")
            ids.setdefault(name, f"n{len(ids) + 1}")
        if len(label) > MAX_LABEL_CHARS:
            raise SketchError(f"Line {number}: the label is {len(label)} characters long; keep labels to {MAX_LABEL_CHARS}.")
        for position, (tail, head) in enumerate(zip(names, names[1:]), start=1):
            edges.append((tail, head, label if position == len(names) - 1 else ""))
        _limits(len(ids), len(edges))
    body = [*LINE_GRAPH_HEAD]
    body += [f"{node_id} [label={quote(name)}];" for name, node_id in ids.items()]
    for tail, head, label in edges:
        body.append(f"{ids[tail]} -> {ids[head]}" + (f" [label={quote(label)}];" if label else ";"))
    dot = "digraph sketch {\n" + "\n".join("  " + line for line in body) + "\n}\n"
    return Sketch("lines", dot, len(ids), len(edges))


# -- DOT ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>//[^\n]*|/\*.*?\*/|^[ \t]*\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<edgeop>->|--)
      | (?P<number>-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
      | (?P<id>[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)
      | (?P<punct>[{}\[\];,=:])""",
    re.VERBOSE | re.MULTILINE | re.DOTALL,
)
_KEYWORDS = {"strict", "graph", "digraph", "node", "edge", "subgraph"}


@dataclass(frozen=True)
class _Token:
    kind: str  # "id" (identifier, number or quoted string), "edgeop", "punct", "end"
    text: str  # for "id": the DOT text to write (quoted); otherwise the token itself
    value: str  # for "id": the content (keywords lowercased); otherwise the token
    line: int
    keyword: bool = False


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    position, line = 0, 1
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            char = text[position]
            if char == "<":
                raise SketchError(f"Line {line}: HTML-like labels (<...>) are not drawn in a sketch; "
                                  "write the label in double quotes instead.")
            if char == '"':
                raise SketchError(f"Line {line}: a quoted text is not closed; add the closing \".")
            raise SketchError(f"Line {line}: '{char}' cannot be read here. Check the DOT syntax near it.")
        kind, chunk = found.lastgroup or "", found.group()
        if kind == "string":
            content = chunk[1:-1].replace("\\\n", "").replace("\\\r\n", "")
            out.append(_Token("id", '"' + content + '"', content, line))
        elif kind in ("number", "id"):
            keyword = kind == "id" and chunk.lower() in _KEYWORDS
            out.append(_Token("id", '"' + chunk + '"', chunk.lower() if keyword else chunk, line, keyword))
        elif kind in ("edgeop", "punct"):
            out.append(_Token(kind, chunk, chunk, line))
        line += chunk.count("\n")
        position = found.end()
    out.append(_Token("end", "", "", line))
    return out


class _DotReader:
    """A recursive-descent reader of the DOT grammar that writes the safe DOT as it goes."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.directed = True
        self.nodes: set[str] = set()
        self.arrows = 0
        self.ignored: set[str] = set()

    # -- tokens
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def is_punct(self, value: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "punct" and token.value == value

    def is_keyword(self, *values: str) -> bool:
        token = self.peek()
        return token.keyword and token.value in values

    def expect(self, value: str, what: str) -> None:
        if not self.is_punct(value):
            self.fail(f"expected {what}")
        self.take()

    def fail(self, message: str) -> None:
        token = self.peek()
        seen = "the end of the text" if token.kind == "end" else f"'{token.value}'"
        raise SketchError(f"Line {token.line}: {message}, found {seen}. Check the DOT syntax there.")

    def name(self, what: str) -> _Token:
        token = self.peek()
        if token.kind != "id" or token.keyword:
            self.fail(f"expected {what}")
        return self.take()

    # -- grammar
    def read(self) -> Sketch:
        head = []
        if self.is_keyword("strict"):
            self.take()
            head.append("strict")
        if not self.is_keyword("graph", "digraph"):
            self.fail("expected 'digraph' or 'graph'")
        kind = self.take().value
        self.directed = kind == "digraph"
        head.append(kind)
        if self.peek().kind == "id" and not self.peek().keyword:
            head.append(self.take().text)
        self.expect("{", "'{' after the graph's name")
        body = self.statements(1)
        self.expect("}", "'}' to close the graph")
        if self.peek().kind != "end":
            self.fail("expected nothing after the graph's closing '}'")
        _limits(len(self.nodes), self.arrows)
        dot = " ".join(head) + " {\n" + "".join(body) + "}\n"
        return Sketch("dot", dot, len(self.nodes), self.arrows, tuple(sorted(self.ignored, key=str.lower)))

    def statements(self, depth: int) -> list[str]:
        if depth > MAX_NESTING:
            raise SketchError(f"Line {self.peek().line}: subgraphs are nested more than {MAX_NESTING} deep; "
                              "flatten them.")
        lines = []
        while not self.is_punct("}") and self.peek().kind != "end":
            statement = self.statement(depth)
            if statement:
                lines.append("  " * depth + statement + "\n")
            while self.is_punct(";"):
                self.take()
        return lines

    def statement(self, depth: int) -> str:
        if self.is_keyword("graph", "node", "edge"):
            kind = self.take().value
            if not self.is_punct("["):
                self.fail(f"expected '[' after '{kind}'")
            attributes = self.attributes()
            return f"{kind} [{attributes}];" if attributes else ""
        if self.peek().kind == "id" and not self.peek().keyword and self.is_punct("=", 1):
            name = self.take()
            self.take()  # the '='
            attribute = self.attribute(name, self.name(f"a value for '{name.value}'"))
            return f"graph [{attribute}];" if attribute else ""
        first = self.operand(depth)
        if self.peek().kind == "edgeop":
            return self.edges(first, depth)
        if first.startswith("{") or first.startswith("subgraph"):
            return first
        attributes = self.attributes() if self.is_punct("[") else ""
        return f"{first} [{attributes}];" if attributes else f"{first};"

    def operand(self, depth: int) -> str:
        """A node id (with any port dropped) or a subgraph, as safe DOT text."""
        if self.is_keyword("subgraph") or self.is_punct("{"):
            head = "{"
            if self.is_keyword("subgraph"):
                self.take()
                head = "subgraph {"
                if self.peek().kind == "id" and not self.peek().keyword:
                    head = f"subgraph {self.take().text} {{"
            self.expect("{", "'{' to open the subgraph")
            inner = self.statements(depth + 1)
            self.expect("}", "'}' to close the subgraph")
            return head + "\n" + "".join(inner) + "  " * depth + "}"
        node = self.name("a component name, 'subgraph' or '{'")
        self.nodes.add(node.value)
        while self.is_punct(":"):  # a port (node:port:compass): not needed in a sketch
            self.take()
            self.name("a port name after ':'")
        return node.text

    def edges(self, first: str, depth: int) -> str:
        parts = [first]
        want = "->" if self.directed else "--"
        while self.peek().kind == "edgeop":
            if self.peek().value != want:
                kind = "digraph" if self.directed else "graph"
                self.fail(f"a {kind} joins components with '{want}'")
            self.take()
            parts.append(self.operand(depth))
            self.arrows += 1
        attributes = self.attributes() if self.is_punct("[") else ""
        return f" {want} ".join(parts) + (f" [{attributes}];" if attributes else ";")

    def attributes(self) -> str:
        kept = []
        while self.is_punct("["):
            self.take()
            while not self.is_punct("]"):
                name = self.name("an attribute name or ']'")
                value = None
                if self.is_punct("="):
                    self.take()
                    value = self.name(f"a value for '{name.value}'")
                attribute = self.attribute(name, value)
                if attribute:
                    kept.append(attribute)
                while self.is_punct(",") or self.is_punct(";"):
                    self.take()
            self.take()
        return ", ".join(kept)

    def attribute(self, name: _Token, value: _Token | None) -> str:
        if name.value.lower() not in ALLOWED_ATTRIBUTES:
            self.ignored.add(name.value)
            return ""
        return f"{name.value.lower()}={value.text if value is not None else TRUE}"
