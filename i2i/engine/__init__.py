"""The one engine: devices, batching, tiling and I/O for every inference command."""
