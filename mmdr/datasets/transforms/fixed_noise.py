import hashlib
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS


def sample_digest(value, seed: int) -> int:
    """A 64-bit number that identifies a sample's content and a seed.

    Args:
        value: What identifies the sample: an array (its dtype, shape and
            bytes count), a string or an integer.
        seed (int): The noise seed.

    Returns:
        int: The first 8 bytes of a BLAKE2b digest, as an integer.
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f'seed={int(seed)};'.encode())
    if isinstance(value, str):
        digest.update(b'str:' + value.encode())
    elif isinstance(value, (int, np.integer)):
        digest.update(f'int:{int(value)}'.encode())
    else:
        array = np.ascontiguousarray(np.asarray(value))
        digest.update(f'array:{array.dtype.str}:{array.shape}:'.encode())
        digest.update(array.tobytes())
    return int.from_bytes(digest.digest(), 'little')


@TRANSFORMS.register_module()
class FixedNoise(BaseTransform):
    """Replace a modality by Gaussian noise that is fixed per sample.

    The "scarcely informative modality" of D&R's Figure 1a (Wei et al.,
    "Diagnosing and Re-learning for Balanced Multimodal Learning", ECCV
    2024): a modality that carries almost no class information. The noise
    keeps the shape and dtype of the real feature it replaces and has the
    configured mean and standard deviation (the real feature's, measured on
    the training split), so the encoder sees inputs of the usual scale. It
    is drawn from a generator seeded by ``seed`` and a digest of the
    sample's identity, so a sample gets the same noise in every epoch, on
    every rank and in every worker, and the training noise can be
    memorised, as the readings of a real uninformative sensor can; it
    depends on nothing but the sample and the seed, so it holds no
    information about the class.

    The identity is by default the real feature itself (hashed before it is
    replaced): deterministic when the pipeline before this transform is,
    and independent of where the data set lies. After a random
    augmentation of that modality, name a key that does not change between
    epochs instead (``id_key``, e.g. the raw waveform or the file path).

    Required keys: ``key`` and ``id_key``.
    Modified keys: ``key``.

    Args:
        key (str): The modality replaced, e.g. ``'audio'`` after the audio
            front-end.
        mean (float): Mean of the noise. Defaults to 0.
        std (float): Standard deviation of the noise. Defaults to 1.
        seed (int): Seed of the noise; another seed gives other noise.
            Defaults to 0.
        id_key (str, optional): Key whose content identifies the sample
            (array, string or integer). Defaults to ``key``.
    """

    def __init__(self,
                 key: str,
                 mean: float = 0.0,
                 std: float = 1.0,
                 seed: int = 0,
                 id_key: Optional[str] = None) -> None:
        if not std >= 0:
            raise ValueError(f'FixedNoise: std={std} (for {key!r}) must be '
                             'a non-negative number')
        self.key = key
        self.mean = float(mean)
        self.std = float(std)
        self.seed = int(seed)
        self.id_key = key if id_key is None else id_key

    def transform(self, results: dict) -> dict:
        """Replace ``results[key]`` by the sample's noise.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with the noise under ``key``.
        """
        for needed in (self.key, self.id_key):
            if needed not in results:
                raise KeyError(
                    f'FixedNoise: sample {results.get("sample_idx")} has no '
                    f'{needed!r} (present: {sorted(results)}); place the '
                    'transform after the one that writes it')
        real = np.asarray(results[self.key])
        rng = np.random.default_rng(
            sample_digest(results[self.id_key], self.seed))
        noise = rng.standard_normal(real.shape) * self.std + self.mean
        results[self.key] = noise.astype(
            real.dtype if np.issubdtype(real.dtype, np.floating) else np.
            float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, '
                f'mean={self.mean}, std={self.std}, seed={self.seed}, '
                f'id_key={self.id_key!r})')
