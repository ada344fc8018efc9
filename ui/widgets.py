"""Two small browser-side widgets the practice page needs and Streamlit does not have.

- ``autosave_notes``: a text box that sends its text shortly after the user stops typing
  (``st.text_area`` only reports on blur or Ctrl+Enter, so notes typed just before a reload or
  a closed tab would be lost).
- ``countdown``: a clock that ticks in the browser, so the page does not rerun every second.

Both are ``st.components.v2`` components: inline JavaScript, no build step. The JavaScript
never inserts data as HTML, only as text and attribute values.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

_NOTES_JS = """
export default function(component) {
  const { data, setStateValue, parentElement } = component;
  // Text typed but not yet confirmed by the server is kept in the browser too (localStorage), so
  // a reload, a closed tab or a lost connection right after typing loses nothing: the next time
  // the box appears, the draft comes back and is sent.
  const draftKey = 'mlsd-notes-draft:' + (data.storage_key || '');
  const readDraft = () => { try { return JSON.parse(localStorage.getItem(draftKey) || 'null'); } catch (e) { return null; } };
  const writeDraft = (text) => { try { localStorage.setItem(draftKey, JSON.stringify({ text, base: data.text || '' })); } catch (e) {} };
  const dropDraft = () => { try { localStorage.removeItem(draftKey); } catch (e) {} };
  let box = parentElement.querySelector('textarea');
  const status = () => parentElement.querySelector('.mlsd-status');
  if (!box) {
    // Created once per mount: later reruns must not overwrite what the user is typing.
    box = document.createElement('textarea');
    box.className = 'mlsd-notes';
    box.rows = data.rows || 8;
    box.placeholder = data.placeholder || '';
    if (data.max_chars) box.maxLength = data.max_chars;
    if (data.monospace) box.classList.add('mono');
    box.setAttribute('aria-label', data.label || 'Notes');
    box.value = data.text || '';
    const line = document.createElement('div');
    line.className = 'mlsd-status';
    line.setAttribute('aria-live', 'polite');
    parentElement.appendChild(box);
    parentElement.appendChild(line);
    let timer = null;
    let sent = box.value;
    const send = () => {
      clearTimeout(timer);
      if (box.value === sent) return;
      sent = box.value;
      setStateValue('text', box.value);
      status().textContent = 'Saving…';
    };
    box._mlsdSend = send;
    box.addEventListener('input', () => {
      writeDraft(box.value);
      status().textContent = 'Not saved yet';
      clearTimeout(timer);
      timer = setTimeout(send, data.debounce_ms || 500);
    });
    box.addEventListener('blur', send);
    window.addEventListener('pagehide', send);
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') send(); });
    const draft = readDraft();
    if (draft && draft.text !== box.value && draft.base === (data.text || '')) {
      box.value = draft.text;  // typed before a reload and never confirmed: send it now
      status().textContent = 'Not saved yet';
      send();
    } else if (draft) {
      dropDraft();  // confirmed already, or the saved text changed elsewhere since
    }
  }
  if ((data.text || '') === box.value) {
    dropDraft();
    status().textContent = box.value ? 'Saved' : 'Saved as you type';
  }
}
"""

_NOTES_CSS = """
.mlsd-notes {
  width: 100%; box-sizing: border-box; resize: vertical; padding: 0.6rem 0.75rem;
  font: inherit; font-size: 0.95rem; line-height: 1.45;
  color: var(--st-text-color); background: var(--st-secondary-background-color);
  border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2)); border-radius: 0.5rem;
}
.mlsd-notes.mono { font-family: var(--st-code-font, monospace); font-size: 0.85rem; }
.mlsd-notes:focus { outline: none; border-color: var(--st-primary-color); }
.mlsd-status { font-size: 0.8rem; opacity: 0.6; margin-top: 0.2rem; }
"""

_COUNTDOWN_JS = """
export default function(component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector('.mlsd-clock');
  if (!root) {
    root = document.createElement('div');
    root.className = 'mlsd-clock';
    root.innerHTML = '<div class="big"></div><div class="small"></div>';
    parentElement.appendChild(root);
  }
  if (root._timer) clearInterval(root._timer);
  const started = Date.now();
  const fmt = (s) => {
    const v = Math.abs(Math.round(s));
    const h = Math.floor(v / 3600), m = Math.floor((v % 3600) / 60), sec = v % 60;
    const mm = h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`;
    return `${mm}:${String(sec).padStart(2, '0')}`;
  };
  const draw = () => {
    const gone = data.running ? (Date.now() - started) / 1000 : 0;
    const left = data.left - gone;
    const step = data.step_spent + gone;
    const big = root.querySelector('.big'), small = root.querySelector('.small');
    big.textContent = left >= 0 ? `${fmt(left)} left` : `${fmt(left)} over time`;
    big.classList.toggle('over', left < 0);
    big.classList.toggle('paused', !data.running);
    small.textContent = `${data.step_label}: ${fmt(step)} of ${fmt(data.step_budget)}` + (data.running ? '' : ' · paused');
    small.classList.toggle('over', step > data.step_budget);
  };
  draw();
  if (data.running) root._timer = setInterval(draw, 1000);
  return () => { if (root._timer) clearInterval(root._timer); };
}
"""

_COUNTDOWN_CSS = """
.mlsd-clock .big { font-size: 2rem; font-weight: 700; font-variant-numeric: tabular-nums; color: var(--st-text-color); }
.mlsd-clock .big.over { color: #d93025; }
.mlsd-clock .big.paused { opacity: 0.55; }
.mlsd-clock .small { font-size: 0.9rem; opacity: 0.75; font-variant-numeric: tabular-nums; }
.mlsd-clock .small.over { color: #d93025; opacity: 1; }
"""

_notes_component = st.components.v2.component("mlsd_autosave_notes", js=_NOTES_JS, css=_NOTES_CSS)
_countdown_component = st.components.v2.component("mlsd_countdown", js=_COUNTDOWN_JS, css=_COUNTDOWN_CSS)


def autosave_notes(key: str, text: str, on_save: Callable[[str], None], label: str = "Notes",
                   placeholder: str = "", rows: int = 8, max_chars: int | None = None,
                   monospace: bool = False) -> None:
    """A notes box saved as the user types (half a second after they stop), on leaving it, and when
    the page is hidden or closed; unconfirmed text is kept in the browser and resent after a reload.

    Args:
        key: widget key; use one per note (e.g. per session and step), since the box reads
            ``text`` only when it first appears.
        text: the saved text to start from.
        on_save: called with the new text on the rerun that follows each change.
        max_chars: the most the box takes (the browser stops typing there), or None.
        monospace: show the text in the code font (for a sketch written as text).
    """
    def changed() -> None:
        result = st.session_state.get(key)
        value = getattr(result, "text", None) if result is not None else None
        if isinstance(value, str):
            on_save(value)

    _notes_component(key=key, data={"text": text, "label": label, "placeholder": placeholder, "rows": rows,
                                    "storage_key": key, "max_chars": max_chars, "monospace": monospace},
                     on_text_change=changed)


def countdown(left_seconds: float, running: bool, step_label: str, step_spent: float, step_budget: float,
              key: str = "countdown") -> None:
    """The interview clock: time left (red when over) and the current step's time against its budget."""
    _countdown_component(key=key, data={"left": left_seconds, "running": running, "step_label": step_label,
                                        "step_spent": step_spent, "step_budget": step_budget})
