"""Formations: the training catalogue, sessions, enrolments and attendance."""

from __future__ import annotations

import streamlit as st

st.title("Formations")
st.info("Cette page arrive bientôt.")
