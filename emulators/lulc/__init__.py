"""Land-use / land-cover U-Net (phase one of seed 004): coarse fractions + static maps +
masked prior map → fine land-use (8 classes) and land-cover (PFT-like, 11 classes) maps."""
