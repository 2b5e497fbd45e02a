from digest.formats import clean, parse  # noqa: F401  # old name, still imported by tests of the mail and identity parts
