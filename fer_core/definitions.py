"""What the audience figures mean and what is stored of them, written once: the live page,
video analysis, batch summaries, stored sessions and reports all count this way and show
these words.

A face found by one search only is *tentative*: it may be a lamp or a pattern, so it counts
for nothing until a second search confirms it (``fer_core.tracking``). A single frame on its
own (a photo) is the exception: every face in it counts.
"""

from fer_core.defaults import ATTENTION_CONE_DEG

FACES_IN_VIEW = (
    "People in the frame: confirmed faces (found by two searches at least half a second "
    "apart), including faces too small to read. A video's or session's figure is the mean "
    "per analyzed frame."
)
FACES_CLASSIFIED = (
    "Faces in view large enough to read (see the minimum face size): the emotion figures "
    "stand for these."
)
FACES_SEEN = (
    "Distinct people over the whole run: each confirmed face track once. A person who turns "
    "away or is hidden for up to 10 s keeps their track; one seen by two cameras counts twice."
)
VALENCE = (
    "The share of happy minus the share of angry, disgust, fear and sad in the faces' mean "
    "emotion mix, from -1 (all negative) to +1 (all happy). Neutral and surprise count as "
    "neither: surprise is as often alarm as delight."
)
ATTENTION = (
    "Share of the faces whose head pose could be estimated that face the stage (within "
    f"{ATTENTION_CONE_DEG:.0f} degrees of the stage direction; by default the camera). An "
    "estimate from the head's landmarks, not the eyes; faces turned far away are not found "
    "and do not count."
)

#: What is stored, what the figures are not, and the law: one paragraph each, for the report
#: and the dashboard's About & privacy page.
PRIVACY_NOTE = (
    "What is stored: numbers, and the names typed in; no pictures. Each session's name, "
    "kind, start and end, settings and summary, its segments (title, start and end) and "
    "alerts, the per-second figures (for an event with several cameras, each camera's too, "
    "with its address masked, when it joined and left and when it sent nothing), and "
    "per-face numbers (time, frame, track number, box position and size, emotion "
    "probabilities, the likeliest emotion and its probability, head yaw and pitch in "
    "degrees, and whether the face was turned to the stage). Never video frames, images or "
    "crops of faces. Track numbers identify a face only within one session; no identity or "
    "face template is kept.",
    "These are estimates of expressions, not of what anyone feels. The model reads posed, "
    "frontal, well-lit faces best; it is weaker on small, turned or dimly lit faces, and its "
    "training data (FER2013) is not balanced across ages and ethnicities. Read the charts as "
    "a trend of a room, never as a judgement of a person.",
    "Emotion recognition is restricted in some places and for some uses. The EU AI Act "
    "prohibits emotion recognition systems in workplaces and education institutions (except "
    "for medical or safety reasons) and treats most other uses as high-risk or subject to "
    "transparency duties; data protection law (such as the GDPR) applies to any processing "
    "of images of people. Check what applies where you use this tool.",
    "Inform your audience before you start: say that the room's expressions are being "
    "analyzed in aggregate, what is kept, for how long, and who sees it; offer a way to opt "
    "out (for example a seating area outside the camera's view).",
)
