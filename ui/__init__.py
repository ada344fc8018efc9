"""The app side's helpers, shared by the pages: cached state (corpus, engine, progress store),
rendering (text shown as text, hit lists), state in the URL, two browser widgets, and what the
Practice page draws (charts, the design sketch, the score table).

The library (``mlsd``) never imports streamlit; this package is where streamlit meets it.
"""
