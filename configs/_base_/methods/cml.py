# CML (Ma et al., ICML 2023): the fused head's loss averaged over the full
# input and the inputs left after removing modalities one by one (each
# sample in its own random order, a removed modality's features replaced by
# zeros), plus lam times the summed excess of confidence with fewer
# modalities. lam 0.1 is BalanceMM's CML setting and the authors' README
# command (--beta 10, divided by 100 in miwae/train.py); margin 0 is the
# authors' --epsilon default; the authors regularise the whole training run
# (BalanceMM: its epochs 0 to 80, the whole of a run this long). What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    balancer=dict(
        type='CML', lam=0.1, margin=0.0, begin_epoch=1, end_epoch=None))
