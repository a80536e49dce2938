"""``FrameAnalyzer``'s defaults, in a light module the dashboard reads without TensorFlow.

Each is the measured best for both a room camera and one webcam face; the README's
audience-scale section gives the measurements and the commands that reproduce them.
"""

SMOOTHING_S = 0.5  # half-life of each face's emotion average
MIN_FACE_PX = 24  # narrower faces are counted in view but not classified
DETECT_EVERY_S = 1.0  # full searches; optical flow follows faces in between
CLASSIFY_EVERY_S = 0.5  # a face is re-read at most this often
CLASSIFY_PER_S = 400.0  # faces read per second in all, stalest first
