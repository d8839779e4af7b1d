"""The main window and what it assembles: workspaces, menus and actions, files, help, and app start-up."""
