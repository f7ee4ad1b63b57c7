"""One training loop (loop.py) and one recipe per method."""
