"""The ground floor: vocabularies every layer shares and that import nothing of avemotion but
:mod:`avemotion.errors`.

:mod:`.labels` the canonical emotions and label sets, :mod:`.formats` the media file
extensions, :mod:`.atomic` atomic file writes, :mod:`.sampling` the seeds' fixed-count rule,
:mod:`.version` the package version, :mod:`.env` the environment variables' names,
:mod:`.folders` whether a folder can be written.
"""
