"""adasgn: AdaSGN and SGN for efficient skeleton-based action recognition."""

__version__ = "0.1.0"
