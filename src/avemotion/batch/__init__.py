"""Batch analysis of many media files: inputs, a resumable streamed output, and engines.

:mod:`.inputs` expands files, folders, globs and manifest CSVs; :mod:`.results` writes one
JSON line (or CSV row) per clip as soon as it is done and knows, on ``--resume``, which inputs
are done (by path and content hash); :mod:`.engines` analyses clips in this process, in N
worker processes on this machine, or over a Ray cluster, each worker loading the model once;
:func:`.run.run_batch` ties them together.
"""
