"""`digest serve`: the long-running service, in parts.

schedule.py (pure triggers), watch.py (which inbox files are complete), status.py (the
service lock and `digest status`), service.py (the wiring: scheduler, signals, jobs).
"""


def __getattr__(name: str) -> object:
    # Old name, still imported by the channels tests; loaded on use, so that `digest status`
    # (which imports digest.service.status) never loads the scheduler.
    if name == "describe_delivery":
        from digest.service.service import describe_delivery

        return describe_delivery
    raise AttributeError(f"module 'digest.service' has no attribute {name!r}")
