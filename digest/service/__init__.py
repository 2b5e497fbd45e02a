"""`digest serve`: the long-running service, in parts.

schedule.py (pure triggers), watch.py (which inbox files are complete), status.py (the
service lock and `digest status`), service.py (the wiring: scheduler, signals, jobs).
"""
