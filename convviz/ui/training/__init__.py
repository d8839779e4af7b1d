"""The Train workspace: running the trainer in a worker thread and the views that watch it learn."""
