"""Options of runs on the generated CMU-MOSI/MOSEI data (the generator is
:mod:`mmdr.testing.cmu_mosi`)."""

#: --cfg-options that replace non-finite features by 0 in every loader (the
#: ``mosei_root`` fixture's training audio holds inf and nan).
NONFINITE_ZERO_OPTIONS = [
    f'{split}_dataloader.dataset.nonfinite=zero'
    for split in ('train', 'val', 'test')
]
