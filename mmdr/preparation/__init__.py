"""The shared code of the data preparation tools in ``tools/data``.

* :mod:`.media`: decoding audio-visual files with PyAV and telling cut
  ones from their structure.
* :mod:`.clip_jobs`: one audio-visual clip to frames and audio files,
  resumable by its marker (CREMA-D, Kinetics-Sounds).
* :mod:`.clip_cli`: the options, plan, run and summary of those tools.
* :mod:`.clip_lists`: the run of the tools whose clips are listed by
  annotations and named by their videos (Kinetics-Sounds, VGGSound,
  BalancedAV): videos found by name, missing ones reported, the split
  lists and the validation carve.
* :mod:`.rawframes`: one video to mmaction2's RGB and optical-flow frames,
  resumable by its marker (UCF-101).
* :mod:`.parallel`: the plan line, process pool and closing warning the
  tools share.

Nothing is imported here: each tool imports the modules it uses.
"""
