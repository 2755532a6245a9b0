"""The Streamlit dashboard: pages call crealux_core services, never SQL."""
