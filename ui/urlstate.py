"""Page state in the URL, one way for every page: shareable links, Back/Forward, revisits.

A page declares the widgets it keeps in the URL (``UrlParam``: the values allowed, one or
many, the default), calls :func:`sync_from_url` before drawing them and :func:`write_to_url`
after. The URL carries stable ids (``/topics?topic=cold-start``), never display labels.

Why by hand rather than Streamlit's ``bind="query-params"``: a bound widget with a
``format_func`` puts its *label* in the URL and drops unknown values silently; here the URL
holds ids, and an unknown value is named to the user.

Coming back to a page from the sidebar (its address with none of its parameters) restores
what the page last wrote, so a search is still there after a look at another page.

The rule that makes revisits safe: a widget's value comes from the URL whenever the URL
changed since this page last wrote it (a shared link, Back/Forward, a hand-edited address)
or the widget has no state yet (a first visit, a revisit after Streamlit dropped the state
of a page left); otherwise the widget keeps what the user chose. Either way the value is
checked against what is allowed, so a widget never hands the page a value it cannot use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from .render import md_escape

_LAST = "_url_last"  # session key: per page, the query params this page last wrote


@dataclass(frozen=True)
class UrlParam:
    """One widget kept in the URL under its widget key.

    Attributes:
        allowed: the values the widget can take (ids); None for free text.
        multi: a multiselect-like widget (repeated params ``?topic=a&topic=b``).
        default: the value when the URL says nothing usable.
        parse: turns the URL's text into the widget's value (e.g. ``int``); a ValueError
            makes the value unknown.
        format: turns the widget's value into the URL's text (the inverse of ``parse``).
    """

    allowed: Sequence[Any] | None = None
    multi: bool = False
    default: Any = None
    parse: Callable[[str], Any] = str
    format: Callable[[Any], str] = str


def _from_url(key: str, spec: UrlParam, texts: list[str], ignored: list[str]) -> Any:
    good = []
    for text in dict.fromkeys(texts):
        if not text.strip():
            continue  # "?mode=": the same as no value
        try:
            value = spec.parse(text)
        except ValueError:
            value = None
        if value is None or (spec.allowed is not None and value not in spec.allowed):
            ignored.append(f"{key}={text}")
        else:
            good.append(value)
    if spec.multi:
        return good
    return good[0] if good else spec.default


def _valid(spec: UrlParam, value: Any) -> Any:
    if spec.multi:
        if not isinstance(value, list):
            return list(spec.default or [])
        return [v for v in value if spec.allowed is None or v in spec.allowed]
    if value is None or (spec.allowed is not None and value not in spec.allowed):
        return spec.default
    return value


def sync_from_url(page: str, specs: dict[str, UrlParam]) -> list[str]:
    """Set the widgets' state from the URL or keep the user's choice (see the module's rule).

    Call before the widgets are drawn; draw them with ``key=`` and no default of their own.

    Returns:
        The ``key=value`` pairs of the URL that are not allowed and were ignored.
    """
    last = st.session_state.setdefault(_LAST, {}).get(page, {})
    # Back on the page from the sidebar (its address without any of its parameters): the page
    # is as the user left it, as a person expects of a tab they return to.
    restore = any(last.values()) and not any(key in st.query_params for key in specs)
    ignored: list[str] = []
    for key, spec in specs.items():
        texts = last.get(key, []) if restore else st.query_params.get_all(key)
        if restore:
            st.session_state.pop(key, None)  # take the value from what the page last wrote
        if key not in st.session_state or texts != last.get(key):
            st.session_state[key] = _from_url(key, spec, texts, ignored)
        else:
            st.session_state[key] = _valid(spec, st.session_state[key])
    return ignored


def write_to_url(page: str, specs: dict[str, UrlParam], values: dict[str, Any]) -> None:
    """Put the widgets' values into the URL; a value equal to its default is left out."""
    written: dict[str, list[str]] = {}
    for key, value in values.items():
        spec = specs[key]
        if value in (None, "", []) or value == spec.default:
            if key in st.query_params:
                del st.query_params[key]
            written[key] = []
        else:
            texts = [spec.format(v) for v in value] if spec.multi else [spec.format(value)]
            if st.query_params.get_all(key) != texts:
                st.query_params[key] = texts
            written[key] = texts
    st.session_state.setdefault(_LAST, {})[page] = written


def notice_ignored(ignored: list[str], known: str = "") -> None:
    """Tell the user which values of the link were not understood (shown as text)."""
    if ignored:
        text = f"Ignored unknown value(s) in the link: {', '.join(ignored)}."
        st.info(md_escape(text) + (f" {known}" if known else ""), icon=":material/info:")
