from digest.interests import Interests, select, terms  # noqa: F401  # old name, still imported by the render part's tests
