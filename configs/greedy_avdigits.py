# Greedy on AV-Digits: jt_avdigits.py plus the method of
# _base_/methods/greedy.py (the same values; tests hold them equal).
_base_ = ['./jt_avdigits.py']

model = dict(
    unimodal_head=dict(type='LinearClsHead', topk=(1, )),
    balancer=dict(
        type='Greedy',
        variant='guided',
        epsilon=0.01,
        window_size=5,
        starting_epoch=2,
        reduction=4))
find_unused_parameters = True
