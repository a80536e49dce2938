"""Model: the shipped models' published figures and model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
from fer_core.catalog import model_info, model_names

VIEW_NAMES = {"none": "single view", "flip": "flip", "tencrop": "ten-crop"}

st.title("Models")
names = model_names()
if not names:
    st.error("No model is installed in the models folder.")
    st.stop()
info = model_info(st.selectbox("Model", names))
metrics = info.metrics
if metrics is None:
    st.warning(f"{info.name} has no metrics.json; run scripts/evaluate.py on it.")
else:
    accuracy, macro_f1, images = st.columns(3)
    accuracy.metric("Accuracy", f"{metrics['accuracy']:.1%}")
    macro_f1.metric("Macro F1", f"{metrics['macro_f1']:.3f}")
    images.metric("Test images", f"{metrics['n_images']:,}")
    if "faces_per_second" in metrics:
        runtime = metrics.get("runtime", "keras")
        st.caption(
            f"Speed in that evaluation: {metrics['faces_per_second']:,.0f} faces/s "
            f"({runtime}, {metrics.get('precision', 'float32')}, batches of 256)."
        )
    views = metrics.get("tta") or {}
    default_tta = metrics.get("default_tta")
    if default_tta:
        st.caption(f"The model averages {default_tta} views of each face, as it does in use.")
    if views:
        st.caption(
            "Other views: "
            + ", ".join(
                f"{VIEW_NAMES.get(name, name)} {figures['accuracy']:.1%}"
                for name, figures in views.items()
            )
        )
    per_class = pd.DataFrame(metrics["per_class"]).T.rename_axis("class").reset_index()
    left, right = st.columns([2, 3])
    left.subheader("Per class")
    left.dataframe(per_class, hide_index=True)
    right.plotly_chart(charts.confusion_matrix(metrics["confusion_matrix"], metrics["classes"]))
if info.card:
    with st.expander("Model card", expanded=metrics is None):
        st.markdown(info.card)
