"""Placeholder: this page is being built (issue 7)."""

from __future__ import annotations

import streamlit as st

st.info("Cette page est en préparation.")
