"""1-km soil moisture in 10 layers (10–100 cm) from a random forest, SMCI1.0-style (seed 002).

Trained on TWIN data from the host physics (twin.py); `predict.predict` is the pure per-pixel
function an online daily step calls; see MODEL_CARD.md.
"""
