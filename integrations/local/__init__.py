"""The local graph runner (`rtc run FILE GRAPH`): every step in a container on this machine (see README.md)."""
