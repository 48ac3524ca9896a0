"""Decode one video into RGB and optical-flow JPEG frames.

Writes mmaction2's rawframe layout (the one denseflow and mmaction2's
``tools/data/build_rawframes.py`` write) into one folder per video:
``img_00001.jpg`` .. ``img_N.jpg`` for N frames, ``flow_x_00001.jpg`` ..
``flow_x_{N-1}.jpg`` and ``flow_y_*`` likewise (flow between frames i and
i+1), 1-based, 5 digits. Used by ``tools/data/ucf101/prepare_ucf101.py``.

* Decoding: decord, frame by frame (``VideoReader.next``), so a video is
  never held in memory: two frames at a time.
* Size: the short side resized to ``short_side`` (mmaction2's
  ``--new-short``: the other side ``int(side * short_side / short)``,
  bilinear), 0 keeps the original size; flow is computed on the grayscale of
  the resized frames.
* Flow: TV-L1 (``cv2.optflow.DualTVL1OpticalFlow_create``, opencv-contrib,
  OpenCV's default parameters) or Farneback (``cv2.calcOpticalFlowFarneback``
  with the parameters of denseflow's ``farn``: 5 levels, scale 0.5, window
  13, 10 iterations, poly_n 5, sigma 1.1). ``auto`` takes TV-L1 where
  opencv-contrib provides it.
* Quantisation (denseflow / TSN): each component clipped to
  ``[-bound, bound]`` (bound 20 pixels), mapped linearly to 0..255
  (``rint(255 * (v + bound) / (2 * bound))``), saved as a grayscale JPEG;
  :func:`dequantize_flow` inverts it to within ``bound / 255``.
* JPEG quality 95 (OpenCV's and mmcv's default).

A finished folder gets a ``.done`` marker, written last and atomically
(JSON: frame counts, sizes, settings, the video's byte size);
:func:`marker_state` tells a finished folder from a half-written or stale
one. Corrupt input raises :class:`VideoError`: a file decord cannot open, a
truncated AVI (its RIFF header names more bytes than the file has; decord
would silently decode the frames before the cut), a decode error, fewer
frames decoded than decord indexes, or fewer than 2 frames (no flow).
"""
import os
import os.path as osp
import shutil
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np
from mmengine.fileio import dump, load

from mmdr.utils.atomic_write import write_text_atomic
from .media import encode_jpeg, first_line, riff_truncation, target_size

RGB_TMPL = 'img_{:05d}.jpg'
FLOW_TMPL = 'flow_{}_{:05d}.jpg'
RGB_PREFIX, FLOW_X_PREFIX, FLOW_Y_PREFIX = 'img_', 'flow_x_', 'flow_y_'
DONE_MARKER = '.done'
FLOW_BOUND = 20.0
JPEG_QUALITY = 95
FLOW_ALGOS = ('tvl1', 'farneback')
#: denseflow's Farneback (cv::cuda::FarnebackOpticalFlow defaults).
FARNEBACK = dict(
    pyr_scale=0.5,
    levels=5,
    winsize=13,
    iterations=10,
    poly_n=5,
    poly_sigma=1.1,
    flags=0)

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class VideoError(Exception):
    """The video cannot be used: corrupt, truncated, unreadable or short."""


class Settings(NamedTuple):
    """What a rawframe folder depends on (recorded in its marker).

    Attributes:
        short_side (int): Target short side, 0 for the original size.
        flow_algo (str): ``'tvl1'``, ``'farneback'`` or ``'none'`` (RGB
            only).
        bound (float): Flow clipping bound in pixels.
        jpeg_quality (int): JPEG quality of every image.
    """
    short_side: int = 256
    flow_algo: str = 'tvl1'
    bound: float = FLOW_BOUND
    jpeg_quality: int = JPEG_QUALITY


def tvl1_available() -> bool:
    """Whether OpenCV provides ``cv2.optflow.DualTVL1OpticalFlow_create``."""
    optflow = getattr(cv2, 'optflow', None)
    return hasattr(optflow, 'DualTVL1OpticalFlow_create')


def resolve_flow_algo(algo: str) -> str:
    """Turn ``auto`` into the algorithm that will run.

    Args:
        algo (str): ``auto``, ``tvl1`` or ``farneback``.

    Returns:
        str: ``tvl1`` or ``farneback``.

    Raises:
        ValueError: ``tvl1`` asked for where OpenCV lacks it.
    """
    if algo == 'auto':
        return 'tvl1' if tvl1_available() else 'farneback'
    if algo == 'tvl1' and not tvl1_available():
        raise ValueError(
            'TV-L1 needs cv2.optflow.DualTVL1OpticalFlow_create from '
            'opencv-contrib-python (this OpenCV lacks it); use --flow-algo '
            'farneback or auto')
    if algo not in FLOW_ALGOS:
        raise ValueError(f'unknown flow algorithm {algo!r}')
    return algo


def describe_flow_algo(algo: str) -> str:
    """One line naming the flow implementation, for logs and summaries."""
    if algo == 'tvl1':
        return ('TV-L1 (cv2.optflow.DualTVL1OpticalFlow_create, OpenCV '
                f'{cv2.__version__})')
    if algo == 'farneback':
        return ('Farneback (cv2.calcOpticalFlowFarneback, OpenCV '
                f'{cv2.__version__}, denseflow parameters)')
    return 'none (RGB frames only)'


def create_flow_fn(algo: str) -> FlowFn:
    """Return ``flow(prev_gray, next_gray) -> (H, W, 2) float32``.

    Args:
        algo (str): ``tvl1`` or ``farneback``.

    Returns:
        Callable: The flow function (holds its own TV-L1 object).
    """
    if algo == 'tvl1':
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda prev, nxt: tvl1.calc(prev, nxt, None)
    if algo == 'farneback':
        return lambda prev, nxt: cv2.calcOpticalFlowFarneback(
            prev, nxt, None, **FARNEBACK)
    raise ValueError(f'unknown flow algorithm {algo!r}')


def quantize_flow(component: np.ndarray,
                  bound: float = FLOW_BOUND) -> np.ndarray:
    """Quantise one flow component to uint8 (denseflow / TSN convention).

    Args:
        component (np.ndarray): Flow in pixels (x or y).
        bound (float): Values are clipped to ``[-bound, bound]``.

    Returns:
        np.ndarray: uint8 image, ``rint(255 * (v + bound) / (2 * bound))``.
    """
    clipped = np.clip(component.astype(np.float32), -bound, bound)
    return np.rint((clipped + bound) * (255.0 / (2 * bound))).astype(np.uint8)


def dequantize_flow(image: np.ndarray,
                    bound: float = FLOW_BOUND) -> np.ndarray:
    """Invert :func:`quantize_flow` (to within ``bound / 255`` pixels).

    Args:
        image (np.ndarray): uint8 flow image.
        bound (float): The bound it was quantised with.

    Returns:
        np.ndarray: float32 flow in pixels.
    """
    return image.astype(np.float32) * (2 * bound / 255.0) - bound


def open_video(path: str):
    """Open a video with decord (one thread), checking it is whole.

    Args:
        path (str): The video file.

    Returns:
        decord.VideoReader: The reader.

    Raises:
        VideoError: Truncated, or decord cannot open it.
    """
    import decord

    reason = riff_truncation(path)
    if reason:
        raise VideoError(reason)
    try:
        return decord.VideoReader(path, num_threads=1)
    except Exception as err:  # decord raises RuntimeError or DECORDError
        why = first_line(err).replace(path, osp.basename(path))
        raise VideoError(f'decord cannot open it: {why}')


def iter_frames(reader):
    """Yield the RGB frames of an open reader one at a time.

    Raises:
        VideoError: A decode error, or fewer frames than decord indexes.
    """
    expected = len(reader)
    count = 0
    while True:
        try:
            frame = reader.next()
        except StopIteration:
            break
        except Exception as err:
            raise VideoError(f'decode error at frame {count + 1} of '
                             f'{expected}: {first_line(err)}')
        count += 1
        yield frame.asnumpy()
    if count != expected:
        raise VideoError(f'decoded {count} frames, decord indexes {expected}')


def _imwrite(path: str, image: np.ndarray, quality: int) -> None:
    if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f'OpenCV could not write {path}')


def process_frames(frames,
                   settings: Settings,
                   sink: Callable[[str, int, np.ndarray], None],
                   limit: int = 0) -> Dict:
    """Resize frames, compute flow and hand every image to ``sink``.

    Args:
        frames (Iterable[np.ndarray]): RGB frames (H, W, 3).
        settings (Settings): Size, flow algorithm, bound.
        sink (Callable): ``sink(kind, index, image)`` with kind ``img``,
            ``x`` or ``y`` and the 1-based index of the image.
        limit (int): Stop after this many frames (0: all).

    Returns:
        dict: ``rgb`` and ``flow`` counts, ``width`` and ``height`` of the
        images, ``source_width`` and ``source_height``.
    """
    flow_fn = None
    if settings.flow_algo != 'none':
        flow_fn = create_flow_fn(settings.flow_algo)
    prev_gray, size, source = None, None, None
    count = 0
    for frame in frames:
        if size is None:
            source = (frame.shape[1], frame.shape[0])
            size = target_size(*source, settings.short_side)
        if (frame.shape[1], frame.shape[0]) != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        count += 1
        sink('img', count, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if flow_fn is not None:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if prev_gray is not None:
                flow = flow_fn(prev_gray, gray)
                sink('x', count - 1, quantize_flow(flow[..., 0],
                                                   settings.bound))
                sink('y', count - 1, quantize_flow(flow[..., 1],
                                                   settings.bound))
            prev_gray = gray
        if limit and count >= limit:
            break
    size = size or (0, 0)
    source = source or (0, 0)
    return dict(
        rgb=count,
        flow=max(count - 1, 0) if flow_fn is not None else 0,
        width=size[0],
        height=size[1],
        source_width=source[0],
        source_height=source[1])


def extract_video(video: str, out_dir: str, settings: Settings) -> Dict:
    """Write the rawframes of one video into ``out_dir`` (must exist).

    Args:
        video (str): The video file.
        out_dir (str): Its frame folder.
        settings (Settings): How to extract.

    Returns:
        dict: As :func:`process_frames`.

    Raises:
        VideoError: The video is unusable (see the module docstring).
    """
    reader = open_video(video)

    def sink(kind: str, index: int, image: np.ndarray) -> None:
        name = (
            RGB_TMPL.format(index) if kind == 'img' else FLOW_TMPL.format(
                kind, index))
        _imwrite(osp.join(out_dir, name), image, settings.jpeg_quality)

    info = process_frames(iter_frames(reader), settings, sink)
    if info['rgb'] < 2:
        raise VideoError(f'{info["rgb"]} frame(s): at least 2 are needed '
                         '(optical flow needs a pair)')
    return info


def count_frames(frame_dir: str) -> Tuple[int, int, int]:
    """Count RGB, flow x and flow y images like mmaction2's parse_directory.

    Args:
        frame_dir (str): A rawframe folder.

    Returns:
        tuple[int, int, int]: Files starting with ``img_``, ``flow_x_`` and
        ``flow_y_``.
    """
    counts = [0, 0, 0]
    for name in os.listdir(frame_dir):
        for i, prefix in enumerate((RGB_PREFIX, FLOW_X_PREFIX, FLOW_Y_PREFIX)):
            if name.startswith(prefix):
                counts[i] += 1
    return counts[0], counts[1], counts[2]


def settings_dict(settings: Settings) -> Dict:
    """The settings as JSON-friendly dict."""
    return dict(settings._asdict())


def write_marker(out_dir: str, info: Dict, settings: Settings,
                 video_bytes: int) -> None:
    """Write the ``.done`` marker last, atomically."""
    marker = dict(
        info, settings=settings_dict(settings), video_bytes=video_bytes)
    write_text_atomic(
        osp.join(out_dir, DONE_MARKER),
        dump(marker, file_format='json', sort_keys=True) + '\n')


def read_marker(out_dir: str) -> Optional[Dict]:
    """The ``.done`` marker of a folder, or None if missing or unreadable."""
    try:
        marker = load(osp.join(out_dir, DONE_MARKER), file_format='json')
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def marker_state(out_dir: str, settings: Settings,
                 video_bytes: int) -> Tuple[str, str]:
    """Tell whether a frame folder is finished.

    Args:
        out_dir (str): The frame folder.
        settings (Settings): The settings of this run.
        video_bytes (int): Size of the video file now.

    Returns:
        tuple[str, str]: ``('new', '')`` (no folder), ``('done', '')``, or
        ``('redo', why)``: no marker (half-written), frames missing, other
        settings or another video file.
    """
    if not osp.isdir(out_dir):
        return 'new', ''
    marker = read_marker(out_dir)
    if marker is None:
        return 'redo', 'half-written (no .done marker)'
    if marker.get('settings') != settings_dict(settings):
        return 'redo', 'extracted with other settings'
    if marker.get('video_bytes') != video_bytes:
        return 'redo', 'the video file changed'
    expected = (marker.get('rgb'), marker.get('flow'), marker.get('flow'))
    if count_frames(out_dir) != expected:
        return 'redo', 'frames missing or extra'
    return 'done', ''


def prepare_video(job: Tuple[str, str, Settings]) -> Dict:
    """Extract one video from scratch into its folder; the worker's task.

    An existing folder is removed first (half-written or stale), the frames
    are written, then the marker. An unusable video leaves no folder.

    Args:
        job (tuple): ``(video file, frame folder, settings)``.

    Returns:
        dict: ``video`` (the file), ``status`` (``done``, ``corrupt`` for an
        unusable video, ``error`` for anything else, e.g. a full disk),
        ``reason``, and the counts of :func:`process_frames` when done.
    """
    video, out_dir, settings = job
    result = dict(video=video, status='done', reason='')
    try:
        if osp.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.makedirs(out_dir)
        info = extract_video(video, out_dir, settings)
        write_marker(out_dir, info, settings, osp.getsize(video))
        result.update(info)
    except VideoError as err:
        result.update(status='corrupt', reason=str(err))
    except Exception as err:  # reported, and the run exits non-zero
        result.update(status='error', reason=first_line(err))
    if result['status'] != 'done':
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


def worker_init() -> None:
    """Give each worker one OpenCV thread (workers are the parallelism)."""
    cv2.setNumThreads(1)
    try:
        import decord
        decord.logging.set_level(decord.logging.QUIET)
    except Exception:  # older decord: keep its log level
        pass


def sample_sizes(video: str, settings: Settings,
                 num_frames: int) -> Tuple[List[int], List[int], int]:
    """JPEG sizes of the first frames of a video, written nowhere.

    Args:
        video (str): The video file.
        settings (Settings): How the frames would be extracted.
        num_frames (int): Frames to decode (at least 2).

    Returns:
        tuple: RGB JPEG sizes, flow JPEG sizes (x and y) in bytes, and the
        number of frames decord indexes in the whole video.
    """
    reader = open_video(video)
    rgb, flow = [], []

    def sink(kind: str, index: int, image: np.ndarray) -> None:
        size = len(encode_jpeg(image, settings.jpeg_quality))
        (rgb if kind == 'img' else flow).append(size)

    process_frames(
        iter_frames(reader), settings, sink, limit=max(2, num_frames))
    return rgb, flow, len(reader)


def video_length(video: str) -> Dict:
    """Frames decord indexes in a video, or why it cannot be opened.

    Returns:
        dict: ``video``, ``frames`` (None if unusable) and ``reason``.
    """
    try:
        return dict(video=video, frames=len(open_video(video)), reason='')
    except VideoError as err:
        return dict(video=video, frames=None, reason=str(err))
