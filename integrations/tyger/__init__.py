"""Tyger on this machine: codespecs, runs and their lifecycle, buffers, and the run store (see README.md)."""
