# ReconBoost (Hua et al., ICML 2024): the modalities' learners (encoder plus
# its own linear head) are boosted in turn, one stage each in the order of
# model.encoders, then rectified together; the model predicts with their
# ensemble. weight1 5, weight2 1, alpha 0.5 and boost_rate 1.0 are the
# defaults of the authors' train.py (CREMA-D, AVE). Their stages are 4
# boosting plus 4 rectification epochs (epochs_per_stage, correct_epoch),
# which would give 3 stages in the CPU schedules' 27 epochs; here 1 plus 1,
# BalanceMM's T_epochs=1 (13 stages in 27 epochs). What
# tools/analysis/benchmark.py adds to a joint-training config.
model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(
        type='ReconBoost',
        epochs_per_stage=1,
        correct_epochs=1,
        weight1=5.0,
        weight2=1.0,
        alpha=0.5,
        boost_rate=1.0,
        fresh_optimizer=True))
# Each phase leaves some parameters unused (the other encoders while one is
# boosted, the fused head always): DDP must look for them, and then keeps
# their gradients None, so that no optimiser moves them, as in one process.
find_unused_parameters = True
