# ARL (Wei, Luo and Luo, ICCV 2025): what tools/analysis/benchmark.py adds to
# a joint-training config. gamma 4.0 and temperature 8.0 are the authors'
# CREMA-D script (cramed_arl.sh); entropy_floor 0.3 is their code's. They
# warm up for 6 of 100 epochs (epoch > 5, counted from 0), here 2 of the CPU
# schedules' 27.
model = dict(
    balancer=dict(
        type='ARL',
        gamma=4.0,
        temperature=8.0,
        entropy_floor=0.3,
        begin_epoch=3))
