"""Monthly leaf area index on the 0.05° grid (seed 004, phase two): the semi-empirical target,
the LAI U-Net fed by land cover and climate, its baselines and evaluation."""
