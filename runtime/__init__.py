"""stylecast runtime: run style nets on images, videos and webcams (no torch needed)."""
