"""The Docker engine client: the only code that talks to the engine for containers (see README.md)."""
