"""The CREALux domain, its rules and its services.

Imports no Streamlit; only `orchestration` imports Prefect and only `notify` imports Apprise.
"""
