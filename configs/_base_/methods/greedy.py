# Greedy (Wu et al., ICML 2022): one linear head per encoder, an MMTM
# connection between the encoders' pooled features, and re-balancing steps
# for the modality that learns slower. The guided variant, epsilon 0.01 and
# window_size 5 are the authors' training_guided.gin (BalanceBenchmark:
# epsilon 0.001, window_size 5), starting_epoch 2 their callback's default,
# reduction 4 their MMTM's ratio. What tools/analysis/benchmark.py adds to a
# joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(
        type='Greedy',
        variant='guided',
        epsilon=0.01,
        window_size=5,
        starting_epoch=2,
        reduction=4))
# The model's fusion and head never train (the method predicts with the
# uni-modal heads), and a re-balancing step leaves part of the connection
# unused: DDP must expect parameters without gradients.
find_unused_parameters = True
