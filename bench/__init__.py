"""Latency and memory benchmark of the assistant: ``python -m bench [--quick] [--out reports/bench/bench.json]``.

Everything lives in ``bench/__main__.py``; the questions are in ``bench/questions.txt``.
"""
