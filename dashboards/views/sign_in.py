"""Connexion: the only page before signing in."""

from __future__ import annotations

import streamlit as st

from crealux_core.services.users import authenticate
from dashboards import context


def render() -> None:
    st.title("CREALux")
    st.subheader("Connexion")
    with st.form("sign-in"):
        username = st.text_input("Identifiant", autocomplete="username")
        password = st.text_input("Mot de passe", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if not submitted:
        return
    with context.current_runtime().session() as session:
        user = authenticate(session=session, username=username.strip(), password=password)
    if user is None:
        st.error("Identifiant ou mot de passe incorrect.")
        return
    context.sign_in(user)
    st.rerun()


render()
