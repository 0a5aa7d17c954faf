"""The Streamlit app's logic, free of Streamlit where it can be (``app.py`` is the entry point)."""
