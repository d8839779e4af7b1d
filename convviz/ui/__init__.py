"""The desktop app: windows, docks, views and the Qt models over the plain-Python state."""
