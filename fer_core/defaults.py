"""``FrameAnalyzer``'s defaults, in a light module the dashboard reads without TensorFlow.

Each is the measured best for both a room camera and one webcam face; the README's
audience-scale section gives the measurements and the commands that reproduce them.
"""

SMOOTHING_S = 0.5  # half-life of each face's emotion average
# Narrower faces are counted in view but not classified. A CenterFace box 16 px wide gives a
# crop of about 26 px, and both models read 24 px faces within 1.6 (fast) and 2.6 points
# (accurate) of full size but lose 8.8 to 9.9 points at 16 px and 14 to 15 at 12, small-face
# networks routed into both (scripts/evaluate.py's face-size report on FER2013 test/).
MIN_FACE_PX = 16
DETECT_EVERY_S = 1.0  # full searches; optical flow follows faces in between
CLASSIFY_EVERY_S = 0.5  # a face is re-read at most this often
CLASSIFY_PER_S = 200.0  # faces read per second in all, stalest first

# People, not detections (fer_core.tracking): a track is a person once two searches at least
# 0.5 s apart have found it; a person lost from view keeps their id for 10 s; a face's gate
# widens by two face sizes a second since it was last found, up to four.
CONFIRM_HITS = 2
CONFIRM_S = 0.5
KEEP_LOST_S = 10.0
GATE_PER_S = 2.0
MAX_GATE = 4.0

# Attention (fer_core.attention): a face attends when it faces within this many degrees of
# the stage direction (default: the camera), about the head turn of someone watching a stage
# from the side of a room.
ATTENTION_CONE_DEG = 30.0
