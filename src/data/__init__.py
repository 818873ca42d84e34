"""Video data: decoding, temporal sampling and spatial transforms."""
