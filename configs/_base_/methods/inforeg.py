# InfoReg (Huang et al., CVPR 2025): what tools/analysis/benchmark.py adds to
# a joint-training config. From the authors' main.py (train_epoch): the
# window opens while the 10-epoch moving average of the Fisher trace grows
# by more than 5% (k > 0.05); 0.95 is their strength for their dominant
# modality (audio on CREMA-D; 0.1 for visual), here for whichever modality
# dominates a batch; each modality's own trace gates it (the code reads the
# audio trace for both). No epoch bounds: the window is the bound.
model = dict(
    balancer=dict(
        type='InfoReg',
        strength=0.95,
        window_threshold=0.05,
        trace_window=10,
        window_modality=None))
