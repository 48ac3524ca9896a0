"""Text of web pages as a model's input: a bag of words or BERT tokens.

:func:`clean_web_text` is BalanceBenchmark's cleaning of UPMC Food-101's
texts (``FOOD101Dataset.clean_text``: an old-style retweet mark, links and
``#`` removed); :func:`text_words` splits the cleaned text into lower-case
words, which ``tools/data/food101/prepare_food101.py`` counts to write the
vocabulary that :class:`BagOfWords` reads.
"""
import re
from typing import Dict, List

import numpy as np
from mmcv.transforms import BaseTransform

from mmdr.registry import TRANSFORMS
from mmdr.utils.hf_transformers import check_local_model, import_transformers

_RETWEET = re.compile(r'^RT\s+')
_LINK = re.compile(r'https?://\S*')
_WORD = re.compile(r'[a-z0-9]+')


def clean_web_text(text: str) -> str:
    """Remove a leading retweet mark, links and ``#`` from a text.

    Args:
        text (str): A web page's text.

    Returns:
        str: The cleaned text.
    """
    text = _RETWEET.sub('', text)
    text = _LINK.sub('', text)
    return text.replace('#', '')


def text_words(text: str) -> List[str]:
    """The words of a cleaned text: runs of lower-case letters and digits.

    Args:
        text (str): A web page's text.

    Returns:
        list[str]: Its words, in order.
    """
    return _WORD.findall(clean_web_text(text).lower())


def read_vocabulary(path: str) -> Dict[str, int]:
    """Read a vocabulary file: one word per line, its index the line's.

    Args:
        path (str): The file.

    Returns:
        dict[str, int]: Word to index.
    """
    with open(path, encoding='utf-8') as f:
        words = [line.strip() for line in f if line.strip()]
    return {word: index for index, word in enumerate(words)}


@TRANSFORMS.register_module()
class BagOfWords(BaseTransform):
    """A text as the set of vocabulary words it holds (a 0/1 vector).

    The vocabulary comes from the file the sample names under
    ``vocab_key`` (the data set sets it from its ``data_root``, so that a
    config's ``data_root`` override moves both), read once per file. The
    vector has ``vocab_size`` entries, the width of the text encoder's
    input; a shorter vocabulary leaves the last entries 0, a longer one is
    refused.

    Required keys: ``in_key`` (default ``title``), ``vocab_key``.
    Added keys: ``out_key`` (default ``text``), a float32 (vocab_size, )
    array.

    Args:
        vocab_size (int): Width of the vector.
        in_key (str): The sample's text. Defaults to ``'title'``.
        out_key (str): The result. Defaults to ``'text'``.
        vocab_key (str): The key holding the vocabulary file's path.
            Defaults to ``'vocab_path'``.
    """

    def __init__(self,
                 vocab_size: int,
                 in_key: str = 'title',
                 out_key: str = 'text',
                 vocab_key: str = 'vocab_path') -> None:
        if not isinstance(vocab_size, int) or vocab_size <= 0:
            raise ValueError(
                f'BagOfWords: vocab_size must be a positive int, got '
                f'{vocab_size!r}')
        self.vocab_size = vocab_size
        self.in_key = in_key
        self.out_key = out_key
        self.vocab_key = vocab_key
        self._vocabularies: Dict[str, Dict[str, int]] = {}

    def vocabulary(self, path: str) -> Dict[str, int]:
        """The vocabulary of a file, read once.

        Args:
            path (str): The vocabulary file.

        Returns:
            dict[str, int]: Word to index.
        """
        if path not in self._vocabularies:
            vocabulary = read_vocabulary(path)
            if len(vocabulary) > self.vocab_size:
                raise ValueError(
                    f'BagOfWords: {path} holds {len(vocabulary)} words, '
                    f'more than vocab_size={self.vocab_size}; write it '
                    f'with --vocab-size {self.vocab_size} or raise '
                    'vocab_size and the text encoder\'s in_channels')
            self._vocabularies[path] = vocabulary
        return self._vocabularies[path]

    def transform(self, results: dict) -> dict:
        """Turn one sample's text into its vector.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``out_key`` added.
        """
        vocabulary = self.vocabulary(results[self.vocab_key])
        vector = np.zeros(self.vocab_size, dtype=np.float32)
        indices = [
            vocabulary[w] for w in text_words(results[self.in_key])
            if w in vocabulary
        ]
        vector[indices] = 1.0
        results[self.out_key] = vector
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(vocab_size={self.vocab_size}, '
                f'in_key={self.in_key!r}, out_key={self.out_key!r}, '
                f'vocab_key={self.vocab_key!r})')


@TRANSFORMS.register_module()
class HFTokenize(BaseTransform):
    """Tokenise a text with a Hugging Face tokenizer from a local folder.

    As BalanceBenchmark's ``FOOD101Dataset.tokenize``: the cleaned text
    (:func:`clean_web_text`), padded and truncated to ``max_length``
    tokens. Needs ``transformers`` (an optional dependency): without it the
    transform fails when it is built, with the command that installs it.
    The tokenizer is read from ``pretrained`` only, never downloaded.

    Required keys: ``in_key`` (default ``title``).
    Added keys: ``out_key`` (default ``text``), an int64 (2, max_length)
    array: the token ids, then the attention mask
    (:class:`mmdr.models.encoders.HFTextEncoder` takes it).

    Args:
        pretrained (str): Local folder of the tokenizer (e.g. a saved
            ``bert-base-uncased``).
        max_length (int): Tokens per text. Defaults to 40 (BalanceBenchmark's).
        in_key (str): The sample's text. Defaults to ``'title'``.
        out_key (str): The result. Defaults to ``'text'``.
    """

    def __init__(self,
                 pretrained: str,
                 max_length: int = 40,
                 in_key: str = 'title',
                 out_key: str = 'text') -> None:
        key = 'the HFTokenize step of the data pipeline'
        transformers = import_transformers(key)
        check_local_model(pretrained, f'{key}: pretrained')
        self.pretrained = pretrained
        self.max_length = max_length
        self.in_key = in_key
        self.out_key = out_key
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(
            pretrained, local_files_only=True)

    def transform(self, results: dict) -> dict:
        """Tokenise one sample's text.

        Args:
            results (dict): The sample.

        Returns:
            dict: The sample with ``out_key`` added.
        """
        tokens = self.tokenizer(
            clean_web_text(results[self.in_key]),
            padding='max_length',
            max_length=self.max_length,
            truncation=True)
        results[self.out_key] = np.array(
            [tokens['input_ids'], tokens['attention_mask']], dtype=np.int64)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(pretrained={self.pretrained!r}, '
                f'max_length={self.max_length}, in_key={self.in_key!r}, '
                f'out_key={self.out_key!r})')
