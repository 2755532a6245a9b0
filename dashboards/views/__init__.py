"""Page scripts that `app.py` registers with st.navigation; each calls services only."""
