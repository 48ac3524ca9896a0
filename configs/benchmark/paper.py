# The paper-scale benchmark (python tools/analysis/benchmark.py
# configs/benchmark/paper.py): the data sets of the D&R paper's main tables
# with the reference code's models and schedules (ResNet-18 audio-visual on
# CREMA-D and Kinetics-Sounds, TSN RGB + flow on UCF-101, transformers on
# CMU-MOSI's three modalities), every method, 3 seeds. Meant for a GPU
# (--jobs 1 --threads N): each run trains for hours on a CPU. Prepare the
# data sets first (docs/user_guides/prepare_dataset.md).
# OGM-GE and PMR are defined for two modalities: MOSI excludes them.
methods = [
    'jt', 'dr', 'ogm_ge', 'mmpareto', 'pmr', 'unimodal_aux_loss', 'alone'
]
seeds = [0, 1, 2]

settings = [
    dict(config='configs/jt_cremad.py'),
    dict(config='configs/jt_kinetics_sounds.py'),
    dict(config='configs/jt_ucf101.py'),
    dict(config='configs/jt_mosi.py', exclude_methods=['ogm_ge', 'pmr']),
]
