"""Which papers are the same paper: keys computed once a paper, the candidate index and
title search, the pure fuzzy rule, and the decision.

    keys.py    normalise text; a paper's exact keys (arXiv id, title, abstract)
    index.py   candidate-index grams; choosing candidates and ranking a title search
    rule.py    the fuzzy rule: compare two identities, with its reason
    decide.py  identify a paper once; split a run's papers into new and skipped
"""
