"""Prediction on new media with trained bundles."""
