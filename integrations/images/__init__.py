"""Images from environments: a generated Dockerfile, built and cached by content (see README.md)."""
