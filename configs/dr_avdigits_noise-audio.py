# D&R twin of jt_avdigits_noise-audio.py: the same model, data and schedule,
# plus the Diagnosing & Re-learning hook.
_base_ = ['./jt_avdigits_noise-audio.py', './_base_/dr/dr_27e.py']
