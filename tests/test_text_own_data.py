"""Translation and the character LM on a user's own text: scripts with combining marks and
emoji in the word tokenizer, Unicode normal forms in references, extreme sampling
temperatures, and the errors a malformed text file gets."""

import unicodedata

from rnnkit.data.tokenizers import WordTokenizer


def test_the_word_tokenizer_keeps_combining_marks_and_emoji_in_their_token():
    words = {
        "हिन्दी भाषा": ["हिन्दी", "भाषा"],  # Devanagari vowel signs and virama (Mn, Mc)
        "مَرْحَبًا بِكَ": ["مَرْحَبًا", "بِكَ"],  # Arabic harakat
        "שָׁלוֹם עולם": ["שָׁלוֹם", "עולם"],  # Hebrew niqqud
        "ที่นี่ ดี": ["ที่นี่", "ดี"],  # Thai tone marks
    }
    for text, tokens in words.items():
        assert WordTokenizer.split(text) == tokens, text
        tok = WordTokenizer.fit([text])
        assert tok.decode(tok.encode(text)) == unicodedata.normalize("NFC", text), text
    others = {
        "I ❤️ 👍🏽 🇫🇷🇩🇪 👨\u200d👩\u200d👧 1️⃣": ["i", "❤️", "👍🏽", "🇫🇷", "🇩🇪",
                                               "👨\u200d👩\u200d👧", "1️⃣"],
        "n\u0308 ok, l'homme!": ["n\u0308", "ok", ",", "l'", "homme", "!"],  # no NFC form
        "\u0301 a": ["\u0301", "a"],  # a mark with nothing before it stays a token
    }
    for text, tokens in others.items():
        assert WordTokenizer.split(text) == tokens, text
