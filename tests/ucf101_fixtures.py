"""The tiny UCF-101 archives and mmaction2 trees of the tests: written by
:mod:`mmdr.testing.ucf101`, whose names are imported here for the tests."""
from mmdr.testing.ucf101 import (
    DEFAULT_CLASSES,
    FPS,
    SPLITS,  # noqa: F401
    VIDEO_NAMES,
    archive_videos,
    corrupt_file,
    make_frames,
    split_block,
    split_test_groups,
    truncate_video,
    video_relpath,
    write_mmaction2_tree,
    write_official_lists,
    write_short_video,
    write_ucf101_archive,
    write_undecodable,
    write_video)
