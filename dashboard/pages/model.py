"""Model: the shipped models' published figures and model cards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import charts
from fer_core.catalog import model_info, model_names

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
    with_tta = metrics.get("tta") or {}
    if with_tta:
        st.caption(
            "With test-time augmentation: "
            + ", ".join(f"{name} {figures['accuracy']:.1%}" for name, figures in with_tta.items())
        )
    per_class = pd.DataFrame(metrics["per_class"]).T.rename_axis("class").reset_index()
    left, right = st.columns([2, 3])
    left.subheader("Per class")
    left.dataframe(per_class, hide_index=True)
    right.plotly_chart(charts.confusion_matrix(metrics["confusion_matrix"], metrics["classes"]))
if info.card:
    with st.expander("Model card", expanded=metrics is None):
        st.markdown(info.card)
