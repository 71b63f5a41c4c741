"""envd's runtime: long-lived environments (`rtc env up|down|run`) (see README.md)."""
