# OPM (Wei et al., TPAMI 2024): the dominant modality's features dropped in
# the forward pass with a probability driven by the discrepancy ratio. q_base
# 0.5, lam 0.5 and p_exe 0.7 are the defaults of the authors' main.py and
# scripts/train_opm.sh; they warm up for 6 of their 100 epochs before
# dropping, here 2 of the CPU schedules' 27 (6 / 100 * 27 = 1.6), and drop
# to the end. What tools/analysis/benchmark.py adds to a joint-training
# config.
model = dict(
    balancer=dict(
        type='OPM',
        q_base=0.5,
        lam=0.5,
        p_exe=0.7,
        begin_epoch=3,
        end_epoch=None))
