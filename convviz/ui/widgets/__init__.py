"""Pieces every part of the window shares: layer colours and icons, dialogs, image files, the Qt check."""
