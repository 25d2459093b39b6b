"""nncore.data.text: vocabularies (round trip, unknown and padding symbols),
padding and length masks, and the bundled text."""

import numpy as np
import pytest

from nncore.data.text import (PAD, UNK, CharVocabulary, Vocabulary, check_lengths, length_mask, load_text,
                              pad_sequences, tokenize)


def test_token_vocabulary_round_trip_with_unknown_and_padding():
    sentences = [tokenize("the cat sat on the mat"), tokenize("the dog sat")]
    vocab = Vocabulary.build(sentences)
    assert vocab.itos[:2] == [PAD, UNK] and vocab.pad_index == 0 and vocab.unk_index == 1
    assert vocab.itos[2] == "the" and len(vocab) == 2 + 6
    ids = vocab.encode(sentences[0])
    assert ids.dtype == np.int64
    assert vocab.decode(ids) == sentences[0]
    assert vocab.decode(vocab.encode(["the", "zebra"])) == ["the", UNK]
    assert vocab.decode([0, 2, 0], skip_specials=True) == ["the"]
    assert Vocabulary.build(sentences, min_freq=2).itos == [PAD, UNK, "the", "sat"]
    again = Vocabulary.from_state_dict(vocab.state_dict())
    assert again.itos == vocab.itos and again.specials == vocab.specials


def test_char_vocabulary_round_trip():
    text = "To be, or not to be"
    vocab = CharVocabulary.from_text(text)
    assert vocab.itos == sorted(set(text)) and vocab.pad_index is None
    assert vocab.decode(vocab.encode(text)) == text
    with pytest.raises(ValueError, match="'!'.*not in the vocabulary"):
        vocab.encode("be!")
    with_specials = CharVocabulary.from_text(text, specials=(PAD, UNK))
    assert with_specials.decode(with_specials.encode("be!"), skip_specials=True) == "be"
    with pytest.raises(ValueError, match="ids must be in"):
        vocab.decode([len(vocab)])


def test_pad_sequences_and_masks():
    padded, lengths = pad_sequences([[1, 2, 3], [4], [5, 6]], padding_value=0)
    np.testing.assert_array_equal(padded, [[1, 4, 5], [2, 0, 6], [3, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    bf, _ = pad_sequences([[1, 2, 3], [4]], padding_value=9, batch_first=True, max_length=4)
    np.testing.assert_array_equal(bf, [[1, 2, 3, 9], [4, 9, 9, 9]])
    np.testing.assert_array_equal(length_mask([3, 1], 4), [[1, 1], [1, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(length_mask([3, 1], batch_first=True), [[1, 1, 1], [1, 0, 0]])
    features, _ = pad_sequences([np.ones((2, 3)), np.ones((1, 3))])
    assert features.shape == (2, 2, 3) and features[1, 1].sum() == 0
    with pytest.raises(ValueError, match="empty batch"):
        pad_sequences([])
    with pytest.raises(ValueError, match="max_length 2 is shorter"):
        pad_sequences([[1, 2, 3]], max_length=2)
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


def test_check_lengths_names_the_argument():
    np.testing.assert_array_equal(check_lengths([2, 3], 3, 2), [2, 3])
    with pytest.raises(ValueError, match=r"src_lengths must be in \[1, 3\] \(the padded size\)"):
        check_lengths([2, 4], 3, 2, "src_lengths")
    with pytest.raises(ValueError, match=r"lengths must have shape \(3,\)"):
        check_lengths([2, 3], 3, 3)
    with pytest.raises(TypeError, match="lengths must hold integers"):
        check_lengths([2.0], 3, 1)


def test_bundled_text_is_hamlet():
    text = load_text()
    assert 150_000 < len(text) < 200_000
    assert text.startswith("HAMLET, PRINCE OF DENMARK")
    assert "To be, or not to be" in text
    assert len(set(text)) < 80 and all(c == "\n" or " " <= c <= "~" for c in set(text))
