"""The dashboard: ``streamlit run dashboard/app.py``."""

# aiortc (imported by streamlit-webrtc) segfaults at import if TensorFlow was imported first;
# every page runs in this process, so import it before anything can pull in TensorFlow.
import streamlit_webrtc  # noqa: F401  # isort: skip

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
