# Joint training (no balancing) on CMU-MOSEI, binary sentiment, with the
# settings of jt_mosi.py (MulT's main.py defaults); the input widths are
# those of MulT's mosei_senti_data.pkl (text 300, audio 74, vision 35).
_base_ = [
    '_base_/default_runtime.py', '_base_/schedules/adam_40e_mult.py',
    '_base_/datasets/mosei.py',
    '_base_/models/transformer_text_audio_vision.py'
]
default_hooks = dict(checkpoint=dict(save_best='sentiment/acc2'))
model = dict(
    encoders=dict(audio=dict(in_channels=74), vision=dict(in_channels=35)))
