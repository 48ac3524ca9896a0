"""Tiny inputs in the real formats of the data sets, written on demand:
what the tests and the preparation benchmarks of ``tools/analysis`` share.

Import the module of a data set, e.g. ``mmdr.testing.ucf101``; nothing is
imported here.
"""
