"""IFEval's ``language:response_language`` and ``change_case:*``: the response's language and letter case.

A word in capitals (``capital_word_frequency``) is a Penn Treebank token, as NLTK's ``word_tokenize``
cuts the text sentence by sentence, with at least one cased letter and no lower-case one: "DON'T" is
two ("DO", "N'T"), "WELL-KNOWN" one, "U.S.A." one, "3D" one.

IFEval detects the language with ``langdetect``, which is random unless seeded and reads ALL-CAPS text
badly. This uses ``lingua`` instead, deterministic, in two tiers that share one process-wide model cache:

- a text with at least ``LONG_TEXT_CHARS`` word characters: lingua's low-accuracy mode over all of its
  75 languages (trigram models, tens of megabytes, accurate on text of that length);
- a shorter text: lingua's high-accuracy mode, among the low-accuracy mode's best candidates that are
  IFEval languages, English, and the language asked for. Only those languages' models are loaded
  (about 20 MB and a quarter of a second each, once), not the gigabyte that all of them take.

A text longer than ``SAMPLE_CHARS`` is judged by a sample of its beginning, middle and end, so that
a megabyte-long response costs no more than a page.

Three of IFEval's 30 languages are not among lingua's: Kannada and Malayalam are told by their own
scripts, and Nepali from Hindi and Marathi (which share its Devanagari script) by common function
words. A response with no letter at all cannot be told: IFEval counts that as followed, and so do we.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from . import arguments
from .registry import instruction
from .sentences import split_sentences
from .words import count_word_chars, treebank_tokens_of_sentences

# IFEval's languages (ISO 639-1), as its data names them
IFEVAL_LANGUAGES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi", "fr": "French",
    "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian", "bn": "Bengali", "uk": "Ukrainian",
    "th": "Thai", "ur": "Urdu", "ta": "Tamil", "te": "Telugu", "bg": "Bulgarian", "ko": "Korean",
    "pl": "Polish", "he": "Hebrew", "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili",
    "kn": "Kannada", "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}  # fmt: skip
# the languages lingua lacks that have a script of their own
_SCRIPT_LANGUAGES = {"kn": re.compile("[\u0c80-\u0cff]"), "ml": re.compile("[\u0d00-\u0d7f]")}
_DEVANAGARI_WORD = re.compile("[\u0900-\u0963\u0966-\u097f]+")
# frequent words, and for Nepali and Marathi the case endings they write joined to the word, that tell the
# three Devanagari languages apart (Hindi writes its postpositions as words of their own: "घर में", "राम का")
_FUNCTION_WORDS = {
    "ne": frozenset("छ छन् छैन छु थियो थिए हुन्छ हुन्छन् पनि यो त्यो तर र सक्छ हुने धेरै भन्ने हामी तपाईं उनी".split()),
    "hi": frozenset("है हैं था थे थी का की के में से और नहीं यह वह भी लिए गया करना करने होता हुआ हम आप".split()),
    "mr": frozenset("आहे आहेत आणि नाही होते होता हे ते या करून साठी आपण आम्ही खूप".split()),
}
_ENDINGS = {
    "ne": ("को", "ले", "मा", "लाई", "हरू", "हरूले", "हरूको", "हुन्छ", "छन्", "थियो", "एको", "एका"),
    "hi": (),
    "mr": ("च्या", "ाचा", "ाची", "ाचे", "मध्ये", "ामध्ये"),
}

LONG_TEXT_CHARS = 120
SAMPLE_CHARS = 30_000  # a longer text is judged by its beginning, middle and end
_CANDIDATES = 5  # how many of the low-accuracy mode's best guesses a short text is re-ranked among

_lock = threading.Lock()
_low_accuracy: LanguageDetector | None = None


def _low_accuracy_detector() -> LanguageDetector:
    """The process-wide detector over all languages, built on first use."""
    global _low_accuracy
    with _lock:
        if _low_accuracy is None:
            builder = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode()
            _low_accuracy = builder.with_preloaded_language_models().build()
        return _low_accuracy


def warm_up() -> None:
    """Load the all-language low-accuracy models and English's high-accuracy one (about 0.5 s the first
    time, a millisecond after): one detection of a short and of a long English text."""
    detect_language("This short sentence is written in English.")
    detect_language("This sentence is written in English, and it is long enough to be judged " * 3)


@functools.lru_cache(maxsize=512)
def _high_accuracy_detector(languages: frozenset[Language]) -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*languages).build()  # cheap: the models are cached globally


def _lingua(code: str) -> Language | None:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        return None


_RERANKED = frozenset(language for language in map(_lingua, IFEVAL_LANGUAGES) if language is not None)
# the ISO 639-1 codes ``response_language`` can check
SUPPORTED = frozenset(
    {language.iso_code_639_1.name.lower() for language in Language.all()} | set(_SCRIPT_LANGUAGES) | {"ne"}
)


def has_letters(text: str) -> bool:
    return any(map(str.isalpha, text))


def detect_language(text: str, hint: str = "en") -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in; None when it cannot be told.

    ``hint`` is the language the caller asks about: a short text is also weighed against it.
    """
    if not has_letters(text):
        return None
    text = _sample(text)
    size = count_word_chars(text)  # vowel signs (marks) count on both sides of the script test
    for code, script in _SCRIPT_LANGUAGES.items():
        in_script = len(script.findall(text))
        if in_script and 2 * in_script > size:
            return code
    if size >= LONG_TEXT_CHARS:
        found = _low_accuracy_detector().detect_language_of(text)
    else:
        found = _short_text_language(text, hint)
    if found is None:
        return None
    code = found.iso_code_639_1.name.lower()
    if code in ("hi", "mr"):
        return _devanagari_language(text, code)
    return code


def _sample(text: str) -> str:
    """A long text's beginning, middle and end (``SAMPLE_CHARS`` in all): enough to tell its language."""
    if len(text) <= SAMPLE_CHARS:
        return text
    part = SAMPLE_CHARS // 3
    middle = (len(text) - part) // 2
    return f"{text[:part]}\n{text[middle : middle + part]}\n{text[-part:]}"


def _short_text_language(text: str, hint: str) -> Language | None:
    guesses = _low_accuracy_detector().compute_language_confidence_values(text)[:_CANDIDATES]
    candidates = {guess.language for guess in guesses if guess.value > 0 and guess.language in _RERANKED}
    candidates |= {language for language in (Language.ENGLISH, _lingua(hint)) if language is not None}
    if guesses and guesses[0].value > 0:
        candidates.add(guesses[0].language)  # the best guess, IFEval's language or not
    if len(candidates) == 1:
        return next(iter(candidates))
    return _high_accuracy_detector(frozenset(candidates)).detect_language_of(text)


def _devanagari_language(text: str, guess: str) -> str:
    """Hindi, Marathi or Nepali: the one with the most function words and endings; lingua's guess on a tie."""
    counts = dict.fromkeys(_FUNCTION_WORDS, 0)
    for word in _DEVANAGARI_WORD.findall(text):
        for code, words in _FUNCTION_WORDS.items():
            if word in words or any(len(word) > len(end) + 1 and word.endswith(end) for end in _ENDINGS[code]):
                counts[code] += 1
    best = max(counts.values())
    return guess if counts[guess] == best else max(counts, key=lambda code: counts[code])


def language_code(kwargs: dict[str, Any]) -> str:
    code = arguments.text(kwargs, "language").strip().lower()
    if code not in SUPPORTED:
        known = ", ".join(sorted(SUPPORTED))
        raise ValueError(f"language {code!r} is not supported; use an ISO 639-1 code of: {known}")
    return code


@instruction(
    "language:response_language",
    kwargs=("language",),
    description=(
        "The whole response is in `language` (an ISO 639-1 code such as en, fr, hi; IFEval uses 30 of them). "
        "A response without letters counts as followed, as in IFEval."
    ),
)
def response_language(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    code = language_code(kwargs)
    return not has_letters(response) or detect_language(response, hint=code) == code


def count_capital_words(text: str) -> int:
    if not any(map(str.isupper, text)):
        return 0  # no token can be in capitals
    return sum(1 for token in treebank_tokens_of_sentences(split_sentences(text)) if token.isupper())


@instruction(
    "change_case:capital_word_frequency",
    kwargs=("capital_frequency", "capital_relation"),
    description=(
        'Words in all capital letters appear `capital_relation` ("less than" or "at least") `capital_frequency` times.'
    ),
)
def capital_word_frequency(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    threshold = arguments.integer(kwargs, "capital_frequency")
    how = arguments.relation(kwargs, "capital_relation")
    return arguments.compare(count_capital_words(response), how, threshold)


@instruction(
    "change_case:english_capital",
    description="The whole response is in English and in capital letters (no lower-case letter).",
)
def english_capital(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return response.isupper() and _english(response)


@instruction(
    "change_case:english_lowercase",
    description="The whole response is in English and in lower-case letters (no capital letter).",
)
def english_lowercase(response: str, kwargs: dict[str, Any], prompt: str) -> bool:
    return response.islower() and _english(response)


def _english(text: str) -> bool:
    """Told English; a text with cased characters but no letter (Ⓐ) cannot be told and passes, as in IFEval."""
    return not has_letters(text) or detect_language(text) == "en"
