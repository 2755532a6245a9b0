import streamlit as st

st.title("CREALux")
