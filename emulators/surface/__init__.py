"""ELM-ready surface parameters from landemu's fine emulator output (issue 12).

Land cover → land units and PFTs, per-PFT LAI/SAI and heights, soil layers, topography
from a real DEM, aggregation to a host grid, an ELM surfdata writer, and the scaling
diagnostics of seed 000 (how much fine-scale information a coarse host loses).
"""
