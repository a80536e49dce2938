"""What the audience figures mean, written once: the live page, video analysis, batch
summaries, stored sessions and reports all count this way and show these words.

A face found by one search only is *tentative*: it may be a lamp or a pattern, so it counts
for nothing until a second search confirms it (``fer_core.tracking``). A single frame on its
own (a photo) is the exception: every face in it counts.
"""

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
