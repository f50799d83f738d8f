"""How many words of a text are in each supported language: script first, lingua where scripts are shared.

Code (fenced and inline), LaTeX (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``), URLs, tags and numbers
are removed first. The rest is split into segments at sentence punctuation (``. ! ? ; 。 ！ ？ ；`` …)
and line breaks, and each word is classified by its script:

* Han → zh, or ja when its segment has kana; kana → ja (Han and kana count per character);
* Hangul → ko, Thai → th (per consonant: Thai has no spaces), Hebrew → he, Greek → el,
  Devanagari → hi, Arabic script → ar (one per word);
* Latin and Cyrillic words are shared by several languages: the words of one script in one segment
  go to one lingua detector restricted to the supported languages of that script. A segment of at
  least ``MIN_DETECT_WORDS`` words takes lingua's top language when it beats the text's dominant
  language of that script by ``SWITCH_MARGIN`` in confidence, else the dominant one; shorter runs
  take the dominant one, or the language of their segment when they are a few words embedded in a
  CJK or other-script sentence (a term like "Python" in a Chinese sentence). A clause (split at
  commas) of at least ``MIN_CLAUSE_WORDS`` words moves to another language when lingua gives that
  language ``CLAUSE_MARGIN`` more confidence than its sentence's label (a mid-sentence switch).

Deterministic and offline (lingua's models ship in its wheel); a detector is built once per process
and script, on first use.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from ..runtime.verifier import Verdict
from .extract import after_think, think_section

MIN_DETECT_WORDS = 3
SWITCH_MARGIN = 0.25
MIN_CLAUSE_WORDS = 4
CLAUSE_MARGIN = 0.5


class Script(str, Enum):
    LATIN = "latin"
    CYRILLIC = "cyrillic"
    HAN = "han"
    KANA = "kana"
    HANGUL = "hangul"
    THAI = "thai"
    HEBREW = "hebrew"
    GREEK = "greek"
    DEVANAGARI = "devanagari"
    ARABIC = "arabic"


# ISO 639-1 code → English name; the script-decided ones map from their script below
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "tr": "Turkish", "vi": "Vietnamese", "id": "Indonesian",
    "ru": "Russian", "uk": "Ukrainian", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
    "he": "Hebrew", "el": "Greek", "hi": "Hindi", "th": "Thai",
}  # fmt: skip
SHARED_SCRIPTS: dict[Script, tuple[str, ...]] = {
    Script.LATIN: ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "sv", "tr", "vi", "id"),
    Script.CYRILLIC: ("ru", "uk"),
}
SCRIPT_LANGUAGE: dict[Script, str] = {
    Script.HAN: "zh", Script.KANA: "ja", Script.HANGUL: "ko", Script.THAI: "th", Script.HEBREW: "he",
    Script.GREEK: "el", Script.DEVANAGARI: "hi", Script.ARABIC: "ar",
}  # fmt: skip
SUPPORTED: tuple[str, ...] = tuple(LANGUAGE_NAMES)
_BY_GROUP: dict[str, Script] = {script.value: script for script in Script}

_LATIN = r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_TOKEN = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])"
    r"|(?P<kana>[\u3041-\u3096\u30a1-\u30fa\u30fc])"
    r"|(?P<thai>[\u0e01-\u0e2e])"
    rf"|(?P<latin>[{_LATIN}][{_LATIN}\u0300-\u036f]*(?:['’][{_LATIN}]+)*)"
    r"|(?P<cyrillic>[\u0400-\u0481\u048a-\u04ff]+)"
    r"|(?P<hangul>[\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e]+)"
    r"|(?P<hebrew>[\u05d0-\u05ea][\u0591-\u05bd\u05bf\u05c1-\u05c7\u05d0-\u05f4]*)"
    r"|(?P<greek>[\u0386\u0388-\u03ff\u1f00-\u1ffc]+)"
    r"|(?P<devanagari>[\u0900-\u0963\u0971-\u097f]+)"
    r"|(?P<arabic>[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f][\u064b-\u065f\u0670\u0620-\u064a\u066e-\u06d3]*)"
)
_SEGMENT_BREAK = re.compile(r"[.!?;:\n。！？；：…।॥؟؛\u037e]+")
_CLAUSE_BREAK = re.compile(r"[,，、،]")
# what is not prose: fenced code, inline code, display and inline LaTeX, URLs, tags, numbers
_NON_PROSE = re.compile(
    r"(?P<block>```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|\$\$.*?\$\$|\\\[.*?\\\])"
    r"|`[^`\n]*`|\\\(.*?\\\)|(?<![\\$])\$[^$\n]+\$"
    r"|https?://\S+|www\.\S+|</?[A-Za-z][\w-]*/?>"
    r"|\d+(?:[.,]\d+)*",
    re.DOTALL,
)


def strip_non_prose(text: str) -> str:
    """The text with code, LaTeX, URLs, tags and numbers removed (blocks become line breaks)."""
    return _NON_PROSE.sub(lambda m: "\n" if m.group("block") else " ", unicodedata.normalize("NFC", text))


@dataclass
class _Run:
    """The words of one shared script in one segment, waiting for a language."""

    script: Script
    words: list[str]
    host: str | None  # the segment's script-decided language, when the run is embedded in one
    clauses: list[list[str]]  # the words again, split at commas
    label: str = ""
    moved: dict[str, int] = field(default_factory=dict)  # words of clauses in another language


@dataclass
class Tally:
    """Counted units per language (words; characters for Han and kana, consonants for Thai)."""

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, language: str) -> float:
        total = self.total
        return self.counts.get(language, 0) / total if total else 0.0

    def shares(self) -> dict[str, float]:
        """Share per language found, largest first (ties by code), rounded to 4 places."""
        total = self.total
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {code: round(n / total, 4) for code, n in ordered if n}

    def dominant(self) -> tuple[str, float] | None:
        if not self.total:
            return None
        code = min(self.counts, key=lambda c: (-self.counts[c], c))
        return code, self.share(code)


def tally(text: str) -> Tally:
    """Count the prose units of ``text`` per language."""
    counts: dict[str, int] = defaultdict(int)
    pending: list[_Run] = []
    for segment in _SEGMENT_BREAK.split(strip_non_prose(text)):
        _tally_segment(segment, counts, pending)
    for script in SHARED_SCRIPTS:
        runs = [run for run in pending if run.script is script]
        if runs:
            _label_runs(script, runs)
    for run in pending:
        counts[run.label] += len(run.words) - sum(run.moved.values())
        for code, n in run.moved.items():
            counts[code] += n
    return Tally({code: n for code, n in counts.items() if n})


def _tally_segment(segment: str, counts: dict[str, int], pending: list[_Run]) -> None:
    decided: dict[str, int] = defaultdict(int)
    shared: dict[Script, list[list[str]]] = {}
    has_kana = False
    for number, clause in enumerate(_CLAUSE_BREAK.split(segment)):
        for match in _TOKEN.finditer(clause):
            script = _BY_GROUP[match.lastgroup or ""]
            if script in SHARED_SCRIPTS:
                clauses = shared.setdefault(script, [])
                clauses.extend([] for _ in range(number + 1 - len(clauses)))
                clauses[number].append(match.group())
            else:
                decided[script.value] += 1
                has_kana = has_kana or script is Script.KANA
    if has_kana:  # Han in a sentence with kana is Japanese kanji
        decided[Script.KANA.value] += decided.pop(Script.HAN.value, 0)
    host: str | None = None
    for name, n in decided.items():
        counts[SCRIPT_LANGUAGE[Script(name)]] += n
    if decided:
        host = SCRIPT_LANGUAGE[Script(max(decided, key=lambda s: (decided[s], s)))]
    for script, clauses in shared.items():
        clauses = [c for c in clauses if c]
        pending.append(_Run(script, [w for c in clauses for w in c], host, clauses))


def _label_runs(script: Script, runs: Sequence[_Run]) -> None:
    detector = detector_for(script)
    confidences: list[dict[str, float] | None] = []
    weight: dict[str, float] = defaultdict(float)
    seen: dict[str, dict[str, float]] = {}  # a repeated sentence is judged once
    for run in runs:
        if len(run.words) >= MIN_DETECT_WORDS:
            key = " ".join(run.words)
            values = seen.get(key)
            if values is None:
                values = seen[key] = _confidences(detector, run.words)
            for code, value in values.items():
                weight[code] += value * len(run.words)
            confidences.append(values)
        else:
            confidences.append(None)
    if not weight:  # only short runs: judge all their words together
        values = _confidences(detector, [w for run in runs for w in run.words])
        weight.update(values)
    dominant = min(weight, key=lambda c: (-weight[c], c)) if weight else SHARED_SCRIPTS[script][0]
    for run, found in zip(runs, confidences, strict=True):
        if found is None:
            run.label = run.host if run.host is not None else dominant
            continue
        top = min(found, key=lambda c: (-found[c], c))
        switched = found[top] - found.get(dominant, 0.0) >= SWITCH_MARGIN
        run.label = top if switched else dominant
        if len(run.clauses) > 1:
            _label_clauses(detector, run)


def _label_clauses(detector: LanguageDetector, run: _Run) -> None:
    """Move the words of a clause to another language when lingua is sure of it (a mid-sentence switch)."""
    for clause in run.clauses:
        if len(clause) < MIN_CLAUSE_WORDS:
            continue
        found = _confidences(detector, clause)
        top = min(found, key=lambda c: (-found[c], c))
        if top != run.label and found[top] - found.get(run.label, 0.0) >= CLAUSE_MARGIN:
            run.moved[top] = run.moved.get(top, 0) + len(clause)


def _confidences(detector: LanguageDetector, words: Iterable[str]) -> dict[str, float]:
    values = detector.compute_language_confidence_values(" ".join(words))
    return {v.language.iso_code_639_1.name.lower(): v.value for v in values}


_detectors: dict[Script, LanguageDetector] = {}
_lock = threading.Lock()


def detector_for(script: Script) -> LanguageDetector:
    """The lingua detector for one shared script, built (models loaded) on first use and kept for the process."""
    detector = _detectors.get(script)
    if detector is None:
        with _lock:
            detector = _detectors.get(script)
            if detector is None:
                detector = build_detector(SHARED_SCRIPTS[script], preload=True)
                _detectors[script] = detector
    return detector


def build_detector(codes: Iterable[str], *, preload: bool = False) -> LanguageDetector:
    languages = [lingua_language(code) for code in codes]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    return (builder.with_preloaded_language_models() if preload else builder).build()


def warm_up() -> None:
    """Build every shared script's detector (about 1.5 s and 400 MB the first time; then nothing to do).

    Run before any item (in the forkserver, or a process before it reports ready): otherwise the
    first item would load the models inside its own deadline, and a process replaced after a
    timeout would start cold again.
    """
    for script in SHARED_SCRIPTS:
        detector_for(script)


def lingua_language(code: str) -> Language:
    return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))


def describe_supported() -> str:
    return ", ".join(SUPPORTED)


def scoped(completion: str, scope: str) -> str | None:
    """The part of a completion a language check reads: think (the <think> section), answer, or all."""
    if scope == "think":
        return think_section(completion)
    if scope == "answer":
        return after_think(completion)
    return completion


def tally_in_scope(completion: str, scope: str, min_words: int) -> Tally | Verdict:
    """The counted words of the scope, or the ``not_applicable`` verdict when there are too few."""
    text = scoped(completion, scope)
    if text is None:
        what = "no closed <think> section" if scope == "think" else "the reasoning was cut off"
        return Verdict.not_applicable(f"{what}: nothing to check in scope {scope}")
    found = tally(text)
    if found.total < min_words or found.dominant() is None:
        return Verdict.not_applicable(
            f"{found.total} counted word(s) in scope {scope}, fewer than min_words={min_words}", words=found.total
        )
    return found
