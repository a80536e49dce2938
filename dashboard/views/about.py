"""About & privacy: what is computed, what is kept, and the legal context."""

import streamlit as st

st.title("About & privacy")
st.markdown(
    """
### What this dashboard computes
For every video frame it finds the faces (with the face detector chosen in the sidebar),
follows each face with a tracker so it keeps one number while in view, and estimates seven
emotions (angry, disgust, fear, happy, neutral, sad, surprise) with a small neural network
trained on the FER2013 dataset. Per second it charts the average emotion mix of the faces in
view and a **valence** score: the share of *happy* minus the share of *angry, disgust, fear
and sad*, from -1 to +1 (*neutral* and *surprise* count as neither). **Attention** is the
share of faces whose head is turned towards the stage, estimated from each face's landmarks
(eyes, nose, mouth): the head, not the eyes, and a generic head, so a few degrees off for
anyone; faces turned far away are not found and do not count.

These are estimates of **expressions**, not of what anyone feels. The model reads posed,
frontal, well-lit faces best; it is weaker on small, turned or dimly lit faces, and FER2013
is not balanced across ages and ethnicities. Read the charts as a trend of a room, never as a
judgement of a person.

### What is stored
- **Never stored:** video frames, images or crops of faces. Live video is analyzed in memory
  on this server and sent back; an uploaded recording is deleted as soon as it is analyzed.
- **Stored** in the session database: each session's name, kind, start and end, settings,
  the per-second figures, its segments and alerts, and per-face numbers (time, track number,
  box position and size, emotion probabilities, head yaw and pitch and whether the face was
  turned to the stage; for a live session, each face's first reading in each second).
  Track numbers identify a face only within one session; no identity or face template is
  kept, and faces are followed by position and motion only, never by their appearance.
  Sessions can be exported or deleted on the Sessions page.
- **Blur faces** replaces every face in the returned or annotated video with a blur.

### The law, and your audience
Emotion recognition is restricted in some places and for some uses. The **EU AI Act**
prohibits emotion recognition systems in **workplaces and education institutions** (except
for medical or safety reasons) and treats most other uses as high-risk or subject to
transparency duties; data protection law (such as the GDPR) applies to any processing of
images of people. Check what applies where you use this tool.

**Inform your audience** before you start: say that the room's expressions are being analyzed
in aggregate, what is kept, for how long, and who sees it; offer a way to opt out (for example
a seating area outside the camera's view), and use **Blur faces** when showing the video.
"""
)
