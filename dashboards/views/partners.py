"""Partenaires: the partner organisations, their offers, staff and notification channels."""

from __future__ import annotations

import streamlit as st

st.title("Partenaires")
st.info("Cette page arrive bientôt.")
