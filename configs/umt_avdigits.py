# UMT (uni-modal teachers) on AV-Digits: jt_avdigits.py plus
# _base_/methods/umt.py (the same values; tests hold them equal). Train the
# two teachers first, each modality alone:
#   python tools/train.py configs/jt_avdigits.py \
#       --work-dir work_dirs/avdigits_alone-audio \
#       --cfg-options "model.modalities=[audio]"
#   python tools/train.py configs/jt_avdigits.py \
#       --work-dir work_dirs/avdigits_alone-visual \
#       --cfg-options "model.modalities=[visual]"
_base_ = ['./jt_avdigits.py']

model = dict(
    balancer=dict(
        type='UMT',
        teachers=dict(
            audio='work_dirs/avdigits_alone-audio',
            visual='work_dirs/avdigits_alone-visual'),
        weight=10.0))
