# MMCosine (Xu et al., ICASSP 2023): the fused head's output replaced by the
# sum of cosine-normalised uni-modal logits (features and each modality's
# weight slice L2-normalised, the bias left out), in training and
# prediction. scaling 10 is the default of the authors' main_CD.py and the
# command of their README. What tools/analysis/benchmark.py adds to a
# joint-training config.
model = dict(balancer=dict(type='MMCosine', scaling=10.0))
