"""Benchmarks: figures printed and compared with a baseline in the same run, never asserted in tests."""
