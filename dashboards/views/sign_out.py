"""Déconnexion: forget the signed-in user and go back to the sign-in page."""

from __future__ import annotations

import streamlit as st

from dashboards import context

context.sign_out()
context.flash("info", "Vous êtes déconnecté·e.")
# Leave this address: signing in again here would sign out at once.
st.switch_page(context.WORKLIST_PAGE)
