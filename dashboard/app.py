"""The dashboard: ``streamlit run dashboard/app.py``.

Every page runs in this server process, which never imports TensorFlow or Keras: analysis runs
in worker processes (``fer_core.workers``).
"""

import streamlit as st

import common

st.set_page_config(page_title="Audience mood", page_icon=":material/mood:", layout="wide")

if common.password_ok():
    navigation = st.navigation(
        [
            st.Page("pages/live.py", title="Live", icon=":material/videocam:", default=True),
            st.Page("pages/video.py", title="Analyze a video", icon=":material/movie:"),
            st.Page("pages/sessions.py", title="Sessions", icon=":material/history:"),
            st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
            st.Page("pages/about.py", title="About & privacy", icon=":material/shield:"),
        ]
    )
    navigation.run()
