"""The visual branch: keyframes from videos, face detection behind one interface, tracking, cropping.

:mod:`avemotion.visual.keyframes` picks frames (evenly spaced, strided, the seeds' fixed count);
:mod:`avemotion.visual.faces` finds, tracks and crops faces (Haar by default, YuNet and MediaPipe
when their model files are given).
"""
