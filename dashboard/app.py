"""The dashboard: ``streamlit run dashboard/app.py``.

Every page runs in this server process, which never imports TensorFlow or Keras: analysis runs
in worker processes (``fer_core.workers``). Pages are registered only once the password is
given (``gate``); they live in ``views/`` because a ``pages/`` folder would bypass that.
"""

from pathlib import Path

import gate
import streamlit as st

PAGES = [  # (script, title, icon); the first is the default page
    ("views/live.py", "Live", ":material/videocam:"),
    ("views/cameras.py", "Room cameras", ":material/photo_camera:"),
    ("views/video.py", "Analyze a video", ":material/movie:"),
    ("views/sessions.py", "Sessions", ":material/history:"),
    ("views/model.py", "Model", ":material/model_training:"),
    ("views/about.py", "About & privacy", ":material/shield:"),
]

st.set_page_config(page_title="Audience mood", page_icon=":material/mood:", layout="wide")
gate.exposure_warning()
if gate.unlocked():
    pages = [
        st.Page(script, title=title, icon=icon, default=index == 0)
        for index, (script, title, icon) in enumerate(PAGES)
    ]
    st.navigation(pages).run()
else:
    # Each page's URL leads to the sign-in form, and to that page once signed in.
    pages = [
        st.Page(gate.sign_in, title="Sign in", url_path=Path(script).stem, default=index == 0)
        for index, (script, _, _) in enumerate(PAGES)
    ]
    st.navigation(pages, position="hidden").run()
