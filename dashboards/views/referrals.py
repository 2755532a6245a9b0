"""Orientations: referrals to partners' offers, accepted or declined by the partner."""

from __future__ import annotations

import streamlit as st

st.title("Orientations")
st.info("Cette page arrive bientôt.")
