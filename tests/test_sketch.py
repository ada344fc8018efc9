"""The design sketch: the line syntax and DOT, both rewritten as DOT that only draws text.

The browser test (tests/test_browser.py) checks that Streamlit draws the result; here, what
the DOT says, that typed text cannot add attributes, links or markup, and the messages.
"""

from __future__ import annotations

import re

import pytest

from mlsd.errors import SketchError
from mlsd.sketch import (
    ALLOWED_ATTRIBUTES,
    LINE_GRAPH_HEAD,
    MAX_ARROWS,
    MAX_COMPONENTS,
    SKETCH_MAX_CHARS,
    is_dot,
    parse_sketch,
    quote,
)

STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def outside_strings(dot: str) -> str:
    """The DOT with every double-quoted string blanked: what Graphviz reads as syntax."""
    return STRING.sub('""', dot)


def attribute_names(dot: str) -> set[str]:
    return set(re.findall(r"([A-Za-z_]+)=", outside_strings(dot)))


def error(text: str) -> str:
    with pytest.raises(SketchError) as info:
        parse_sketch(text)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# the line syntax
# ---------------------------------------------------------------------------------------------
def test_chains_become_components_and_arrows_in_order_of_appearance():
    sketch = parse_sketch("client -> api -> ranker: top 500\n\n# the offline path\napi -> feature store\n"
                          "  logs  \nranker -> api")
    assert (sketch.syntax, sketch.components, sketch.arrows, sketch.ignored) == ("lines", 5, 4, ())
    assert sketch.dot == "\n".join([
        "digraph sketch {",
        *(f"  {line}" for line in LINE_GRAPH_HEAD),
        '  n1 [label="client"];',
        '  n2 [label="api"];',
        '  n3 [label="ranker"];',
        '  n4 [label="feature store"];',
        '  n5 [label="logs"];',
        "  n1 -> n2;",
        '  n2 -> n3 [label="top 500"];',  # a label names the line's last arrow
        "  n2 -> n4;",
        "  n3 -> n2;",
        "}",
    ]) + "\n"


def test_a_colon_inside_a_name_is_not_a_label():
    sketch = parse_sketch("api -> redis:6379\nqueue: kafka -> consumer")
    assert '[label="redis:6379"]' in sketch.dot and '[label="queue: kafka"]' in sketch.dot
    assert sketch.arrows == 2 and "label=\"6379\"" not in sketch.dot


@pytest.mark.parametrize("name", [
    '<b>bold</b>', 'x" [URL="javascript:alert(1)"', "a\\N\\l\\G", 'label=<<i>x</i>>', "a]; b [shape=none",
    "{ c d }", '"quoted"', "tab\there",
])
def test_typed_text_stays_text_in_the_dot(name):
    sketch = parse_sketch(f"{name} -> api: {name}")
    assert attribute_names(sketch.dot) <= {"rankdir", "fontname", "nodesep", "ranksep", "shape", "style", "fontsize",
                                           "color", "label"}
    assert f"[label={quote(name)}]" in sketch.dot
    assert "<" not in outside_strings(sketch.dot)
    again = parse_sketch(sketch.dot)  # the output is itself a sketch that keeps everything
    assert (again.ignored, again.components, again.arrows) == ((), 2, 1)


def test_quote_escapes_quotes_and_backslashes_and_folds_lines():
    assert quote('say "hi"\\N\nnext') == '"say \\"hi\\"\\\\N next"'


@pytest.mark.parametrize("text, message", [
    ("client -> \n", "Line 1: an arrow needs a component on each side, as in 'client -> api'."),
    ("a -> b\n-> c", "Line 2: an arrow needs a component on each side, as in 'client -> api'."),
    ("a -> -> b", "Line 1: an arrow needs a component on each side, as in 'client -> api'."),
    ("a -> " + "n" * 61, f"Line 1: the component name '{'n' * 30}…' is 61 characters long; keep names to 60."),
    ("a -> b: " + "l" * 81, "Line 1: the label is 81 characters long; keep labels to 80."),
])
def test_a_broken_line_names_its_number(text, message):
    assert error(text) == message


def test_an_empty_sketch_draws_nothing():
    assert parse_sketch("  \n\n").syntax == "empty" and parse_sketch("").dot == ""


# ---------------------------------------------------------------------------------------------
# DOT
# ---------------------------------------------------------------------------------------------
def test_dot_is_recognized_but_a_component_named_graph_is_not():
    for text in ("digraph {}", "strict graph G {}", 'digraph "my design"\n{}', "// a comment\nDIGRAPH x {}"):
        assert is_dot(text), text
    for text in ("graph -> db", "digraph", "client -> api"):
        assert not is_dot(text), text
    assert parse_sketch("graph -> db").components == 2


def test_dot_keeps_its_structure_and_drops_what_is_not_layout_or_style():
    sketch = parse_sketch("""
        digraph Design {
          rankdir=LR; stylesheet="https://evil.example/x.css"
          node [shape=box, URL="javascript:alert(1)", image="/etc/passwd" style=rounded];
          subgraph cluster_online { label="Online"; href="https://example.com"; api -> ranker [label="top 500", tooltip="t"] }
          api:e -> { cache "feature store" } [constraint=false];
          /* a comment */ "user \\"quoted\\"" -> api  // another
          ranker [fontpath="/usr/share", label="Ranker\\nGBDT"]
        }""")
    assert sketch.syntax == "dot"
    assert sketch.ignored == ("fontpath", "href", "image", "stylesheet", "tooltip", "URL")
    assert (sketch.components, sketch.arrows) == (5, 3)
    assert sketch.dot == """digraph "Design" {
  graph [rankdir="LR"];
  node [shape="box", style="rounded"];
  subgraph "cluster_online" {
    graph [label="Online"];
    "api" -> "ranker" [label="top 500"];
  }
  "api" -> {
    "cache";
    "feature store";
  } [constraint="false"];
  "user \\"quoted\\"" -> "api";
  "ranker" [label="Ranker\\nGBDT"];
}
"""
    assert attribute_names(sketch.dot) <= ALLOWED_ATTRIBUTES


def test_undirected_and_strict_graphs_and_keywords_in_any_case():
    sketch = parse_sketch("Strict Graph { A -- B -- C; Node [Color=red]; EDGE [penwidth=2] }")
    assert sketch.dot.startswith('strict graph {\n  "A" -- "B" -- "C";\n  node [color="red"];\n  edge [penwidth="2"];\n')
    assert (sketch.components, sketch.arrows) == (3, 2)


@pytest.mark.parametrize("text, message", [
    ("digraph { a -> }", "Line 1: expected a component name, 'subgraph' or '{', found '}'. Check the DOT syntax there."),
    ("digraph {\n a -> b\n c [label=<b>x</b>] }",
     "Line 3: HTML-like labels (<...>) are not drawn in a sketch; write the label in double quotes instead."),
    ("digraph {\n a -- b }", "Line 2: a digraph joins components with '->', found '--'. Check the DOT syntax there."),
    ("graph { a -> b }", "Line 1: a graph joins components with '--', found '->'. Check the DOT syntax there."),
    ('digraph {\n\n "a -> b }', 'Line 3: a quoted text is not closed; add the closing ".'),
    ("digraph { a -> b ", "Line 1: expected '}' to close the graph, found the end of the text. Check the DOT syntax there."),
    ("digraph { a } b", "Line 1: expected nothing after the graph's closing '}', found 'b'. Check the DOT syntax there."),
    ("digraph { a & b }", "Line 1: '&' cannot be read here. Check the DOT syntax near it."),
    ("digraph { node a }", "Line 1: expected '[' after 'node', found 'a'. Check the DOT syntax there."),
    ("digraph { a [label=] }", "Line 1: expected a value for 'label', found ']'. Check the DOT syntax there."),
    ("digraph { " + "{ " * 9 + "a" + " }" * 9 + " }",
     "Line 1: subgraphs are nested more than 8 deep; flatten them."),
])
def test_broken_dot_gets_a_message_with_its_line(text, message):
    assert error(text) == message


# ---------------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------------
def test_size_limits():
    assert error("x" * (SKETCH_MAX_CHARS + 1)) == (f"A sketch is limited to {SKETCH_MAX_CHARS:,} characters; this one "
                                                    f"has {SKETCH_MAX_CHARS + 1:,}. Leave out detail, or split it into "
                                                    "the notes.")
    many = "\n".join(f"c{n}" for n in range(MAX_COMPONENTS + 1))
    assert error(many) == (f"The sketch names {MAX_COMPONENTS + 1} components; draw at most {MAX_COMPONENTS} "
                           "(group details into one box).")
    assert parse_sketch("\n".join(f"c{n}" for n in range(MAX_COMPONENTS))).components == MAX_COMPONENTS
    arrows = "\n".join(f"a -> b{n % 10}" for n in range(MAX_ARROWS + 1))
    assert error(arrows) == f"The sketch draws {MAX_ARROWS + 1} arrows; draw at most {MAX_ARROWS}."
    dot = "digraph {" + " ".join(f"n{n}" for n in range(MAX_COMPONENTS + 1)) + "}"
    assert error(dot).startswith(f"The sketch names {MAX_COMPONENTS + 1} components")
    with pytest.raises(SketchError, match="^A sketch must be text, got NoneType.$"):
        parse_sketch(None)  # type: ignore[arg-type]
