"""mlsd, the ML System Design Explorer: `streamlit run app.py`.

This file only declares the pages; each page is a thin shell over the `mlsd` library.
"""

import streamlit as st

from ui.state import start_engine_loading

st.set_page_config(page_title="ML System Design Explorer", page_icon=":material/hub:", layout="wide")

PAGES = {
    "home": st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    "flow": st.Page("pages/flow.py", title="Design flow", icon=":material/route:", url_path="flow"),
    "search": st.Page("pages/search.py", title="Search", icon=":material/search:", url_path="search"),
    "companies": st.Page("pages/companies.py", title="Companies", icon=":material/domain:", url_path="companies"),
    "topics": st.Page("pages/topics.py", title="Topics", icon=":material/account_tree:", url_path="topics"),
    "map": st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    "practice": st.Page("pages/practice.py", title="Practice", icon=":material/timer:", url_path="practice"),
    "progress": st.Page("pages/progress.py", title="Progress", icon=":material/task_alt:", url_path="progress"),
    "library": st.Page("pages/library.py", title="Library", icon=":material/library_books:", url_path="library"),
}

page = st.navigation(list(PAGES.values()))
# Load the model and index in the background from the first page served, so a user who
# reads the home page and then searches does not wait.
start_engine_loading()
page.run()
