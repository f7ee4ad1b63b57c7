"""Image I/O, colour spaces and training datasets."""
