"""stylecast training side (needs torch): VGG loss network, Gatys stills, fast style nets."""
