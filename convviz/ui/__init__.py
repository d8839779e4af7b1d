"""The desktop app: Qt only, split by what the user sees.

- ``window/``: the main window that composes everything, its menus, workspaces, files and start-up;
- ``builder/``: the Build workspace: the document and its undo commands, palette, stack, inspector,
  diagram, summary and status;
- ``training/``: the Train workspace: the training panel, curves, activations and filters, the
  worker thread and getting CIFAR-10;
- ``widgets/``: what every part shares: layer colours and icons, dialogs, image files, the Qt check;
- ``session.py``: the run session every view reads from (weights, worker, latest records);
- ``gui_gc.py``: garbage collected on the GUI thread only while the app's own threads run.
"""
