"""Spoof generators ("attacks") and the final chain every demo-corpus clip goes through."""
