"""Envois (coordinator): the delivery log of notifications and the disabled channels."""

from __future__ import annotations

import streamlit as st

st.title("Envois")
st.info("Cette page arrive bientôt.")
