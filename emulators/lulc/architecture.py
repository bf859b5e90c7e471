"""The numbers that fix the U-Net's shape, importable without torch (the runtime needs them)."""

LEVELS = 4  # max-pool levels
BASE = 16  # channels of the first level
GROUPS = 8  # group-normalisation groups


def receptive_field(levels: int = LEVELS) -> int:
    """Pixels (side) that can influence one output pixel: every 3×3 convolution adds
    2·scale, every 2×2 pool and 2×2 transposed convolution one scale step."""
    rf = 1
    for lvl in range(levels):  # encoder: two convs, then pool
        rf += 4 * 2**lvl + 2**lvl
    rf += 4 * 2**levels  # bottleneck
    for lvl in reversed(range(levels)):  # decoder: transposed conv, two convs
        rf += 2**lvl + 4 * 2**lvl
    return rf


RECEPTIVE_FIELD = receptive_field()
