"""MdPL: multi-task differentiable parameter learning for the host land model's PFT parameters
(seed 003). Sites and TWIN observations, perturbed-parameter ensembles of the Fortran physics,
a multi-task LSTM surrogate, a parameter generator g_z trained through it, a direct
differential-evolution baseline, evaluation in the real physics, `landemu calibrate`."""
