"""The colours every chart uses, the dashboard's and the report's, so a glance across them
reads the same. Plain hex strings: Plotly and matplotlib both take them."""

#: One colour per emotion.
COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}
#: Segment shades, alternating so that neighbouring segments stand apart.
SEGMENT_FILLS = ("#1f77b4", "#ff7f0e")
#: Alert markers.
ALERT_COLOR = "#d62728"
#: Valence per second (light) and its rolling mean (dark, drawn over it).
VALENCE_COLORS = ("#9ecae1", "#08519c")
ATTENTION_COLOR = "#2ca02c"
FACES_COLOR = "#555"
#: One colour per session where sessions are compared, in turn.
SESSION_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
