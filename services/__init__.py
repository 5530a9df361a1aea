"""The Strom services: thin loops over the library, one process each (``strom <service>``)."""
