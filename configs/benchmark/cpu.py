# The CPU benchmark (python tools/analysis/benchmark.py, the default list):
# every method on the CPU-scale settings, 3 seeds. Each setting is a
# joint-training config; `dr` runs its dr_ twin, `alone` each modality on its
# own (the reference of the imbalance measure), any other method merges
# configs/_base_/methods/<method>.py into the config.
# OGM-GE, PMR, Greedy, OPM, InfoReg, ARL and the valuations are defined for
# two modalities (their papers and code compare an audio and a visual score,
# or connect two branches): three-modality settings exclude them. UMT
# distils from the `alone` runs of its setting and seed, and runs after them.
two_modality_only = [
    'ogm_ge', 'pmr', 'greedy', 'opm', 'inforeg', 'arl', 'sample_valuation',
    'modality_valuation'
]

settings = [
    dict(config='configs/jt_avdigits.py'),
    # D&R's Figure 1a: a scarcely informative modality.
    dict(
        config='configs/jt_avdigits_noise-audio.py',
        note='The audio is fixed per-sample noise (no class information).'),
    dict(config='configs/jt_mfeat.py', exclude_methods=two_modality_only),
    dict(config='configs/jt_mfeat_fou_mor.py'),
    dict(config='configs/jt_mfeat_pix_zer.py'),
    dict(
        config='configs/jt_mfeat_noise.py',
        exclude_methods=two_modality_only,
        note='The modality kar is fixed per-sample noise (no class '
        'information); compare with mfeat_fou_mor.'),
]
methods = [
    'jt', 'dr', 'ogm_ge', 'mmpareto', 'pmr', 'unimodal_aux_loss',
    'gradient_blending', 'greedy', 'agm', 'mla', 'reconboost', 'opm',
    'mmcosine', 'ume', 'cml', 'inforeg', 'arl', 'sample_valuation',
    'modality_valuation', 'amco', 'mbsd', 'lfm', 'alone', 'umt'
]
seeds = [0, 1, 2]
