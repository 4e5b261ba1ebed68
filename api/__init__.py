"""The HTTP gateway: URL API, Cube-compatible endpoint and disclosure control."""
