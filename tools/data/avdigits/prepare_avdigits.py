"""Generate the AV-Digits audio-visual data set under ``data/avdigits``.

AV-Digits is a small embedded data set in the spirit of AV-MNIST, built only
from what ``pip install`` brings, so it needs no download site:

* visual: scikit-learn's bundled handwritten digits (``load_digits``, 1,797
  real 8x8 images, values 0..16), scaled to 0..255, hardened with seeded
  Gaussian noise (std ``--image-noise-std``, default 48 grey levels) and one
  random occlusion per image (a 2x2 or 3x3 patch, at a random place, set to
  0 or to uniform noise), saved as 8-bit grayscale PNG files.
* audio: the digit's word ("zero".."nine") spoken by eSpeak NG through the
  ``espeakng-loader`` wheel, with a random voice (one of
  :data:`LANGUAGES` with one of :data:`VARIANTS`, 72 in all), speed
  (130..230 words per minute) and pitch (25..75 of 100), placed after a
  random lead-in (0..0.15 s) and followed by a random tail (0.05..0.2 s),
  mixed with white noise at a random SNR, uniform in ``--snr-min``..
  ``--snr-max`` (default -6..6 dB, relative to the mean power of eSpeak's
  output for the word), scaled to a random peak amplitude (0.2..0.8 of full
  scale; a mix that would clip is scaled down instead), saved as 16-bit
  PCM mono WAV files at 22,050 Hz.

Sample ``i`` is image ``i`` of ``load_digits`` and one clip synthesised for
its label, so every image is paired with one clip of its class; all random
choices of sample ``i`` are drawn from ``numpy.random.default_rng([seed,
i])``, so a sample does not depend on which other samples are generated.
Each clip is synthesised in a freshly forked process because eSpeak NG keeps
state (its pitch-flutter phase) from one utterance to the next.

The defaults (image noise std 48, 2x2..3x3 occlusions, SNR -6..6 dB) were
tuned so that the data set shows modality imbalance. With
``configs/jt_avdigits.py``'s encoders (mmdr 0.2's 20-epoch cosine
schedule, seed 0) the images alone reach about 84% test accuracy and learn fast
(best validation epoch 9), the audio alone only about 41% and slowly (best
epoch 18), and joint training about 85% (seeds 0-4): the visual
modality dominates, the audio one adds little, and joint training stays
clearly below 100%. (In a rougher check with cleaner audio, -5..10 dB,
the audio alone reached about 80%, as strong as the images.)

The split is fixed and stratified: 25% test, 15% validation (carved from
the training part), 60% training. ``train.txt``, ``val.txt`` and
``test.txt`` hold one ``<visual relpath> <audio relpath> <label>`` line per
sample, e.g. ``visual/00012.png audio/00012.wav 2``; ``split_info.json``
records the seed, sizes, noise settings and voices. The same arguments give
the same bytes, whatever ``--workers``.

An existing output folder is never overwritten: if it already holds exactly
what this run would write, the tool says so and stops; otherwise it stops
with an error unless ``--overwrite`` is given.

Example:
    python tools/data/avdigits/prepare_avdigits.py
    python tools/data/avdigits/prepare_avdigits.py --per-class 5 --out /tmp/avd
"""
import argparse
import ctypes
import filecmp
import importlib.util
import multiprocessing
import os
import os.path as osp
import shutil
import tempfile
import wave
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from mmengine.fileio import dump

SAMPLE_RATE = 22050
CLASS_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
               'eight', 'nine')
LANGUAGES = ('en-us', 'en', 'en-gb-scotland', 'en-029', 'en-gb-x-rp',
             'en-us-nyc')
VARIANTS = ('m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4',
            'f5')
RATE_RANGE = (130, 230)  # eSpeak words per minute
PITCH_RANGE = (25, 75)  # eSpeak pitch, 0..100
LEAD_RANGE = (0.0, 0.15)  # seconds of noise before the word
TAIL_RANGE = (0.05, 0.2)  # seconds of noise after it
PEAK_RANGE = (0.2, 0.8)  # peak amplitude of the word, of full scale
OCCLUSION_SIZES = (2, 3)
TEST_RATIO = 0.25
VAL_RATIO = 0.15
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)

# eSpeak NG's C API (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE, _ESPEAK_PITCH = 1, 3
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int,
                                   ctypes.POINTER(ctypes.c_short),
                                   ctypes.c_int, ctypes.c_void_p)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the AV-Digits audio-visual data set')
    parser.add_argument('--out', default='data/avdigits', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--per-class',
        type=int,
        default=None,
        help='keep only the first N samples of each class (quick tests); '
        'default: all 1,797')
    parser.add_argument(
        '--image-noise-std',
        type=float,
        default=48.0,
        help='std of the Gaussian image noise, in grey levels (0..255)')
    parser.add_argument(
        '--snr-min', type=float, default=-6.0, help='lowest SNR, in dB')
    parser.add_argument(
        '--snr-max', type=float, default=6.0, help='highest SNR, in dB')
    parser.add_argument(
        '--workers',
        type=int,
        default=DEFAULT_WORKERS,
        help='processes synthesising speech (does not change the output)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an output folder that holds different files')
    args = parser.parse_args()
    if args.per_class is not None and args.per_class < 1:
        parser.error('--per-class must be at least 1')
    if args.snr_min > args.snr_max:
        parser.error('--snr-min must not exceed --snr-max')
    if args.image_noise_std < 0:
        parser.error('--image-noise-std must not be negative')
    if args.workers < 1:
        parser.error('--workers must be at least 1')
    return args


def load_digit_images() -> Tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's bundled handwritten digits.

    Parses the ``digits.csv.gz`` that scikit-learn ships, exactly as
    ``sklearn.datasets.load_digits`` does, without importing scikit-learn,
    which takes seconds; falls back to ``load_digits`` if the file is not
    where scikit-learn 1.x keeps it.

    Returns:
        tuple[np.ndarray, np.ndarray]: Images (1797, 8, 8), values 0..16,
        and labels (1797, ).
    """
    spec = importlib.util.find_spec('sklearn')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('scikit-learn is not installed; pip install '
                         'scikit-learn')
    path = osp.join(spec.submodule_search_locations[0], 'datasets', 'data',
                    'digits.csv.gz')
    if osp.isfile(path):
        data = np.loadtxt(path, delimiter=',')
        if data.shape == (1797, 65):
            return data[:, :64].reshape(-1, 8, 8), data[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits
    digits = load_digits()
    return digits.images, digits.target.astype(np.int64)


def select_samples(labels: np.ndarray, per_class: int = None) -> np.ndarray:
    """Pick the samples to generate.

    Args:
        labels (np.ndarray): Label of every digit image.
        per_class (int, optional): Keep the first N samples of each class.

    Returns:
        np.ndarray: Ascending sample indices.
    """
    if per_class is None:
        return np.arange(len(labels))
    keep = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
    return np.sort(np.concatenate(keep))


def draw_params(seed: int, idx: int, label: int, noise_std: float,
                snr_range: Tuple[float, float]) -> dict:
    """Draw every random choice of one sample.

    Args:
        seed (int): The data set's seed.
        idx (int): The sample index.
        label (int): Its class.
        noise_std (float): Std of the image noise, in grey levels.
        snr_range (tuple[float, float]): Lowest and highest SNR in dB.

    Returns:
        dict: The sample's parameters and its random generator (``rng``),
        to draw the noise arrays from afterwards.
    """
    rng = np.random.default_rng([seed, idx])
    size = int(rng.choice(OCCLUSION_SIZES))
    return dict(
        rng=rng,
        word=CLASS_WORDS[label],
        voice=f'{LANGUAGES[rng.integers(len(LANGUAGES))]}'
        f'+{VARIANTS[rng.integers(len(VARIANTS))]}',
        rate=int(rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1)),
        pitch=int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
        espeak_seed=int(rng.integers(1, 2**31 - 1)),
        snr=float(rng.uniform(*snr_range)),
        lead=float(rng.uniform(*LEAD_RANGE)),
        tail=float(rng.uniform(*TAIL_RANGE)),
        peak=float(rng.uniform(*PEAK_RANGE)),
        noise_std=noise_std,
        occ_size=size,
        occ_y=int(rng.integers(0, 8 - size + 1)),
        occ_x=int(rng.integers(0, 8 - size + 1)),
        occ_noise=bool(rng.integers(2)))


def make_image(digit: np.ndarray, params: dict) -> np.ndarray:
    """Harden one 8x8 digit with noise and an occlusion.

    Args:
        digit (np.ndarray): The digit, values 0..16.
        params (dict): From :func:`draw_params`.

    Returns:
        np.ndarray: uint8 image of shape (8, 8).
    """
    rng = params['rng']
    img = digit.astype(np.float64) * (255.0 / 16.0)
    img += rng.normal(0.0, params['noise_std'], img.shape)
    y, x, s = params['occ_y'], params['occ_x'], params['occ_size']
    # The occlusion is drawn either way so that the draws that follow do
    # not depend on its kind.
    fill = rng.uniform(0.0, 255.0, (s, s))
    img[y:y + s, x:x + s] = fill if params['occ_noise'] else 0.0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthesize(job: Tuple[str, str, int, int, int]) -> np.ndarray:
    """Speak one word with eSpeak NG.

    Meant to run in a freshly forked process (see :func:`synthesize_all`):
    eSpeak NG carries state from one utterance to the next, so only a fresh
    process gives the same samples for the same job.

    Args:
        job (tuple): ``(word, voice, rate, pitch, espeak_seed)``.

    Returns:
        np.ndarray: int16 samples at 22,050 Hz.
    """
    import espeakng_loader  # only the synthesising processes need it

    word, voice, rate, pitch, espeak_seed = job
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                        data_path, 0)
    if sample_rate != SAMPLE_RATE:
        raise RuntimeError(f'eSpeak NG from {data_path!r} initialised at '
                           f'{sample_rate} Hz, expected {SAMPLE_RATE} Hz')
    chunks: List[np.ndarray] = []

    def collect(wav, num, events) -> int:
        if num > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(num, )).copy())
        return 0  # 0 = go on synthesising

    callback = _SYNTH_CALLBACK(collect)  # kept alive until the end
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_ng_SetRandSeed(espeak_seed)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise RuntimeError(f'eSpeak NG has no voice {voice!r}')
    lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0)
    lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
    text = word.encode()
    if lib.espeak_Synth(text, len(text) + 1, 0, 0, 0, 0, None, None) != 0:
        raise RuntimeError(f'eSpeak NG failed to speak {word!r} as {voice}')
    if not chunks:
        raise RuntimeError(f'eSpeak NG produced no sound for {word!r}')
    return np.concatenate(chunks)


def synthesize_all(jobs: Sequence[tuple], workers: int) -> List[np.ndarray]:
    """Synthesise every job, each in a freshly forked process.

    Args:
        jobs (Sequence[tuple]): Arguments of :func:`synthesize`.
        workers (int): Processes running at once.

    Returns:
        list[np.ndarray]: The samples of every job, in order.
    """
    # Not mmengine.utils.track_parallel_progress: it has no
    # maxtasksperchild, which gives every job its fresh process.
    ctx = multiprocessing.get_context('fork')
    with ctx.Pool(workers, maxtasksperchild=1) as pool:
        return pool.map(synthesize, jobs, chunksize=1)


def make_clip(speech: np.ndarray, params: dict) -> np.ndarray:
    """Pad one spoken word and mix it with white noise.

    Args:
        speech (np.ndarray): int16 samples from :func:`synthesize`.
        params (dict): From :func:`draw_params`.

    Returns:
        np.ndarray: int16 mono samples.
    """
    rng = params['rng']
    speech = speech.astype(np.float64) / 32768.0
    speech *= params['peak'] / max(np.abs(speech).max(), 1e-12)
    lead = int(round(params['lead'] * SAMPLE_RATE))
    tail = int(round(params['tail'] * SAMPLE_RATE))
    clip = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    power = np.mean(speech**2)
    noise_std = np.sqrt(power / 10**(params['snr'] / 10))
    clip += rng.normal(0.0, noise_std, clip.shape)
    peak = np.abs(clip).max()
    if peak > 0.99:
        clip *= 0.99 / peak  # scale down rather than clip
    return np.rint(clip * 32767).astype(np.int16)


def write_wav(path: str, samples: np.ndarray) -> None:
    """Write 16-bit PCM mono WAV at 22,050 Hz (a plain 44-byte header)."""
    with wave.open(path, 'wb') as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(samples.astype('<i2').tobytes())


def split_samples(indices: np.ndarray, labels: np.ndarray,
                  seed: int) -> Dict[str, np.ndarray]:
    """Make the stratified train / val / test split.

    Each class is shuffled on its own and cut into test (25%), val (15%)
    and train (the rest) parts, rounded half up, with at least one test and
    one val sample for a class of three or more, so that even a tiny
    ``--per-class`` set has all three splits.

    Args:
        indices (np.ndarray): The generated samples.
        labels (np.ndarray): Label of every sample of the full set.
        seed (int): Split seed.

    Returns:
        dict[str, np.ndarray]: Split name to ascending sample indices.
    """
    rng = np.random.default_rng(seed)
    splits = dict(train=[], val=[], test=[])
    for cls in range(10):
        members = rng.permutation(indices[labels[indices] == cls])
        num = len(members)
        num_test = int(np.floor(num * TEST_RATIO + 0.5))
        num_val = int(np.floor(num * VAL_RATIO + 0.5))
        if num >= 3:
            num_test, num_val = max(num_test, 1), max(num_val, 1)
        splits['test'].append(members[:num_test])
        splits['val'].append(members[num_test:num_test + num_val])
        splits['train'].append(members[num_test + num_val:])
    return {
        name: np.sort(np.concatenate(parts))
        for name, parts in splits.items()
    }


def generate(staged: str, args: argparse.Namespace) -> Dict[str, int]:
    """Write the whole data set into ``staged``.

    Args:
        staged (str): An empty folder.
        args (argparse.Namespace): The parsed arguments.

    Returns:
        dict[str, int]: Split name to number of samples.
    """
    if importlib.util.find_spec('espeakng_loader') is None:
        raise SystemExit('The speech is synthesised with eSpeak NG from the '
                         'espeakng-loader wheel: pip install '
                         '"espeakng-loader==0.2.4"')
    images, labels = load_digit_images()
    indices = select_samples(labels, args.per_class)
    snr_range = (args.snr_min, args.snr_max)
    params = [
        draw_params(args.seed, int(i), int(labels[i]), args.image_noise_std,
                    snr_range) for i in indices
    ]
    jobs = [(p['word'], p['voice'], p['rate'], p['pitch'], p['espeak_seed'])
            for p in params]
    speeches = synthesize_all(jobs, args.workers)

    os.makedirs(osp.join(staged, 'visual'))
    os.makedirs(osp.join(staged, 'audio'))
    for idx, p, speech in zip(indices, params, speeches):
        name = f'{idx:05d}'
        img = make_image(images[idx], p)
        if not cv2.imwrite(osp.join(staged, 'visual', f'{name}.png'), img):
            raise SystemExit(f'OpenCV could not write {name}.png')
        write_wav(
            osp.join(staged, 'audio', f'{name}.wav'), make_clip(speech, p))

    splits = split_samples(indices, labels, args.seed)
    for split, rows in splits.items():
        with open(osp.join(staged, f'{split}.txt'), 'w') as f:
            for idx in rows:
                f.write(f'visual/{idx:05d}.png audio/{idx:05d}.wav '
                        f'{labels[idx]}\n')
    sizes = {split: len(rows) for split, rows in splits.items()}
    info = dict(
        source='sklearn.datasets.load_digits images; eSpeak NG speech '
        '(espeakng-loader)',
        seed=args.seed,
        per_class=args.per_class,
        sizes=sizes,
        split_ratios=dict(
            train=round(1 - TEST_RATIO - VAL_RATIO, 6),
            val=VAL_RATIO,
            test=TEST_RATIO),
        visual=dict(
            format='8-bit grayscale PNG, 8x8',
            noise_std=args.image_noise_std,
            occlusion_sizes=list(OCCLUSION_SIZES)),
        audio=dict(
            format='16-bit PCM mono WAV',
            sample_rate=SAMPLE_RATE,
            snr_db=[args.snr_min, args.snr_max],
            rate_wpm=list(RATE_RANGE),
            pitch=list(PITCH_RANGE),
            peak=list(PEAK_RANGE),
            languages=list(LANGUAGES),
            variants=list(VARIANTS)))
    with open(osp.join(staged, 'split_info.json'), 'w') as f:
        dump(info, f, file_format='json', indent=2, sort_keys=True)
        f.write('\n')
    return sizes


def list_files(folder: str) -> List[str]:
    """Return the relative paths of all files under ``folder``, sorted."""
    files = []
    for root, _, names in os.walk(folder):
        files += [osp.relpath(osp.join(root, n), folder) for n in names]
    return sorted(files)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        staged = osp.join(scratch, 'staged')
        os.makedirs(staged)
        sizes = generate(staged, args)

        files = list_files(staged)
        if osp.isdir(args.out) and os.listdir(args.out):
            same = list_files(args.out) == files and all(
                filecmp.cmp(
                    osp.join(staged, n), osp.join(args.out, n), shallow=False)
                for n in files)
            if same:
                print(f'{args.out} already holds this preparation; nothing '
                      'to do.')
                return
            if not args.overwrite:
                raise SystemExit(
                    f'{args.out} already holds different files (another '
                    'seed or setting?); pass --overwrite to replace them, or '
                    'choose another --out.')
            for sub in ('visual', 'audio'):
                # Drop clips of an earlier, larger preparation.
                shutil.rmtree(osp.join(args.out, sub), ignore_errors=True)
        for name in files:
            os.makedirs(osp.dirname(osp.join(args.out, name)), exist_ok=True)
            shutil.copyfile(osp.join(staged, name), osp.join(args.out, name))
    print(f'Wrote {len(files)} files to {args.out}: train {sizes["train"]}, '
          f'val {sizes["val"]}, test {sizes["test"]} samples (seed '
          f'{args.seed}).')


if __name__ == '__main__':
    main()
