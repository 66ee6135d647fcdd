"""Latency and memory benchmark of the assistant: ``python -m bench [--quick] [--out reports/bench/bench.json]``.

``__main__`` runs it from ``cold``, ``warm`` and ``report``; the questions are in ``bench/questions.txt``.
"""
