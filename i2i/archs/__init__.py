"""Architectures: one module each (config dataclass + nn.Module + SPEC), listed in registry.py."""
