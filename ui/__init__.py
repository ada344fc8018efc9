"""The app side's helpers, shared by the pages: cached state (corpus, engine, progress store),
rendering (text shown as text, hit lists), state in the URL, and two browser widgets.

The library (``mlsd``) never imports streamlit; this package is where streamlit meets it.
"""
