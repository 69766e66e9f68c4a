"""Audio features for emotion recognition.

:mod:`.features` holds pure functions ``signal, sr -> array`` (no I/O), :mod:`.augment` seedable
waveform and spectrogram augmentation, and :mod:`.extract` named, cached extractors that read a
file, check it is not silent and compute one feature.
"""
